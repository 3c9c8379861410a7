/*
 * dead_letters: list and show the dead_letters rows, and the command line of all three
 * subcommands (see dead_letters.h; requeue lives in requeue.c).
 */
#include "dead_letters.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmdline.h"
#include "db.h"
#include "event.h"
#include "num.h"
#include "requeue.h"
#include "text.h"

const char dead_letters_usage[] =
    "usage: aimem dead-letters list [--group G] [--topic T] [--customer N] [--code C]\n"
    "                               [--since T] [--until T] [--pending] [--limit N] [--json]\n"
    "       aimem dead-letters show --topic T --partition P --offset O [--group G] [--json]\n"
    "       aimem dead-letters requeue [the filters of list | --topic T --partition P --offset O]\n"
    "                                  [--limit N] [--again] [--dry-run]\n"
    "T: RFC 3339 (2026-11-20T15:00:00Z) or a duration back from now (30m, 24h, 7d)\n";

enum {
	DL_GROUP = 1,
	DL_TOPIC,
	DL_CUSTOMER,
	DL_CODE,
	DL_SINCE,
	DL_UNTIL,
	DL_LIMIT,
	DL_PARTITION,
	DL_OFFSET,
	DL_PENDING,
	DL_JSON,
	DL_AGAIN,
	DL_DRY_RUN,
};

/* RFC 3339, or a duration back from now_ms. */
static int dl_time(const char *text, long long now_ms, long long *out)
{
	long long d;
	if (event_parse_time(text, out) == 0)
		return 0;
	if (num_parse_duration_ms(text, &d) == NUM_OK) {
		*out = now_ms - d;
		return 0;
	}
	return -1;
}

/* One option's value into o; 0, or -1 after refusing it through c. */
static int dl_option(struct cmdline *c, int ch, long long now_ms, struct dead_letters_opts *o)
{
	const char *v = c->value;
	long long *number = NULL, min = 0, max = INT32_MAX;
	switch (ch) {
	case DL_GROUP:
		o->group = v;
		return 0;
	case DL_TOPIC:
		o->topic = v;
		return 0;
	case DL_CODE:
		o->code = v;
		return 0;
	case DL_JSON:
		o->json = true;
		return 0;
	case DL_PENDING:
		o->pending = true;
		return 0;
	case DL_DRY_RUN:
		o->dry_run = true;
		return 0;
	case DL_AGAIN:
		o->again = true;
		return 0;
	case DL_CUSTOMER:
		number = &o->customer, min = 1;
		break;
	case DL_PARTITION:
		number = &o->partition;
		break;
	case DL_OFFSET:
		number = &o->offset, max = INT64_MAX;
		break;
	case DL_LIMIT:
		number = &o->limit, min = 1, max = 100000;
		break;
	default: /* DL_SINCE, DL_UNTIL */
		if (dl_time(v, now_ms, ch == DL_SINCE ? &o->since_ms : &o->until_ms) == 0)
			return 0;
		cmdline_fail(c, "--%s takes RFC 3339 or a duration (24h): \"%s\"",
		             ch == DL_SINCE ? "since" : "until", v);
		return -1;
	}
	if (num_parse_int(v, min, max, number) == NUM_OK)
		return 0;
	const char *name = ch == DL_CUSTOMER    ? "customer"
	                   : ch == DL_PARTITION ? "partition"
	                   : ch == DL_OFFSET    ? "offset"
	                                        : "limit";
	cmdline_fail(c, "--%s takes an integer %lld..%lld: \"%s\"", name, min, max, v);
	return -1;
}

int dead_letters_parse(int argc, char **argv, long long now_ms, struct dead_letters_opts *o,
                       int *status)
{
/* every verb takes every filter, as before; the flags are each verb's own */
#define DL_FILTERS                                                                                 \
	{ "group", required_argument, NULL, DL_GROUP },                                            \
	    { "topic", required_argument, NULL, DL_TOPIC },                                        \
	    { "customer", required_argument, NULL, DL_CUSTOMER },                                  \
	    { "code", required_argument, NULL, DL_CODE },                                          \
	    { "since", required_argument, NULL, DL_SINCE },                                        \
	    { "until", required_argument, NULL, DL_UNTIL },                                        \
	    { "limit", required_argument, NULL, DL_LIMIT },                                        \
	    { "partition", required_argument, NULL, DL_PARTITION },                                \
	{                                                                                          \
		"offset", required_argument, NULL, DL_OFFSET                                       \
	}
	static const struct option list[] = {
		DL_FILTERS,
		{ "pending", no_argument, NULL, DL_PENDING },
		{ "json", no_argument, NULL, DL_JSON },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option show[] = {
		DL_FILTERS,
		{ "json", no_argument, NULL, DL_JSON },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option requeue[] = {
		DL_FILTERS,
		{ "again", no_argument, NULL, DL_AGAIN },
		{ "dry-run", no_argument, NULL, DL_DRY_RUN },
		{ NULL, 0, NULL, 0 },
	};
#undef DL_FILTERS
	static const struct option *const tables[] = { list, show, requeue };
	static const char *const names[] = { "list", "show", "requeue" };
	static const char *const cmds[] = { "dead-letters list", "dead-letters show",
		                            "dead-letters requeue" };
	struct cmdline v = CMDLINE_INIT("dead-letters", dead_letters_usage, NULL, argc, argv);
	int cmd = cmdline_verb(&v, names, 3);
	if (cmd < 0) {
		*status = v.status;
		return -1;
	}
	o->cmd = (enum dead_letters_cmd)cmd;
	o->limit = o->cmd == DEAD_LETTERS_LIST ? 50 : 1000;
	struct cmdline c =
	    CMDLINE_INIT(cmds[cmd], dead_letters_usage, tables[cmd], argc - 1, argv + 1);
	int ch;
	while ((ch = cmdline_next(&c)) > 0)
		if (dl_option(&c, ch, now_ms, o) != 0)
			break;
	if (ch != CMDLINE_END || cmdline_args(&c, 0, 0, NULL) < 0) {
		*status = c.status;
		return -1;
	}
	if (o->cmd == DEAD_LETTERS_SHOW &&
	    (o->topic == NULL || o->partition < 0 || o->offset < 0)) {
		*status = cmdline_fail(&c, "show needs --topic, --partition and --offset");
		return -1;
	}
	return 0;
}

void dead_letters_filter(const struct dead_letters_opts *o, bool with_requeued,
                         struct dead_letters_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->v[0] = o->group;
	f->v[1] = o->topic;
	if (o->customer > 0)
		snprintf(f->customer, sizeof(f->customer), "%lld", o->customer),
		    f->v[2] = f->customer;
	if (o->since_ms >= 0)
		snprintf(f->since, sizeof(f->since), "%lld", o->since_ms), f->v[3] = f->since;
	if (o->until_ms >= 0)
		snprintf(f->until, sizeof(f->until), "%lld", o->until_ms), f->v[4] = f->until;
	f->v[5] = o->code;
	if (o->partition >= 0)
		snprintf(f->partition, sizeof(f->partition), "%lld", o->partition),
		    f->v[6] = f->partition;
	if (o->offset >= 0)
		snprintf(f->offset, sizeof(f->offset), "%lld", o->offset), f->v[7] = f->offset;
	f->v[8] = with_requeued ? "true" : "false";
}

#define DL_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Column order of dl_select_sql, also the JSON keys. */
static const char *const dl_cols[] = {
	"group",       "topic",       "partition",         "offset",      "key",
	"customer_id", "event_id",    "error_code",        "error",       "payload_size",
	"received_at", "requeued_at", "requeued_event_id", "requeued_to", "payload_prefix"
};
enum { DL_NCOLS = 15, DL_PREFIX = 14 };

static const char dl_select_sql[] =
    "SELECT consumer_group, topic, partition, \"offset\", msg_key, customer_id, event_id,"
    " error_code, error, payload_size, " DL_UTC("received_at") ", " DL_UTC(
        "requeued_at") ","
                       " requeued_event_id, requeued_to, payload_prefix FROM dead_letters" DEAD_LETTERS_WHERE
                       " ORDER BY received_at DESC, consumer_group, topic, partition, \"offset\" LIMIT $10";

/* The stored prefix (bytea, text format "\x...") as text when it is UTF-8, else as hex. */
static json_t *dl_prefix_json(const char *hex)
{
	size_t n = strlen(hex);
	if (n < 2 || hex[0] != '\\' || hex[1] != 'x')
		return json_string(hex);
	struct buf b = BUF_INIT;
	for (size_t i = 2; i + 1 < n; i += 2) {
		char pair[3] = { hex[i], hex[i + 1], 0 };
		buf_putc(&b, (char)strtol(pair, NULL, 16));
	}
	json_t *v = text_utf8_valid(buf_str(&b), b.len) && memchr(buf_str(&b), 0, b.len) == NULL
	                ? json_stringn(buf_str(&b), b.len)
	                : json_string(hex);
	buf_free(&b);
	return v;
}

static json_t *dl_row_json(const PGresult *res, int r, bool prefix)
{
	json_t *o = json_object();
	for (int c = 0; c < DL_NCOLS; c++) {
		const char *v = PQgetvalue(res, r, c);
		json_t *j = NULL;
		long long n;
		if (PQgetisnull(res, r, c))
			j = json_null();
		else if (c == DL_PREFIX)
			j = prefix ? dl_prefix_json(v) : NULL;
		else if ((c == 2 || c == 3 || c == 5 || c == 9) &&
		         num_parse_int(v, INT64_MIN, INT64_MAX, &n) == NUM_OK)
			j = json_integer(n);
		else
			j = json_string(v);
		if (j != NULL)
			json_object_set_new(o, dl_cols[c], j); /* steals j */
	}
	return o;
}

static void dl_print_table(const PGresult *res, FILE *out)
{
	fprintf(out, "%-20s %-18s %-18s %4s %8s %8s %-16s %8s %-9s %s\n", "RECEIVED_AT", "GROUP",
	        "TOPIC", "PART", "OFFSET", "CUSTOMER", "CODE", "SIZE", "REQUEUED", "ERROR");
	for (int r = 0; r < PQntuples(res); r++) {
		char error[81];
		snprintf(error, sizeof(error), "%s", PQgetvalue(res, r, 8));
		fprintf(out, "%-20s %-18s %-18s %4s %8s %8s %-16s %8s %-9s %s\n",
		        PQgetvalue(res, r, 10), PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
		        PQgetvalue(res, r, 2), PQgetvalue(res, r, 3),
		        PQgetisnull(res, r, 5) ? "-" : PQgetvalue(res, r, 5), PQgetvalue(res, r, 7),
		        PQgetvalue(res, r, 9), PQgetisnull(res, r, 11) ? "no" : "yes", error);
	}
}

static void dl_print_show(const PGresult *res, FILE *out)
{
	for (int r = 0; r < PQntuples(res); r++) {
		for (int c = 0; c < DL_NCOLS; c++) {
			if (c == DL_PREFIX) {
				json_t *p = dl_prefix_json(PQgetvalue(res, r, c));
				fprintf(out, "  %-18s %s\n", "payload_prefix",
				        json_string_value(p));
				json_decref(p);
			} else {
				fprintf(out, "%s%-18s %s\n", c == 0 ? "" : "  ", dl_cols[c],
				        PQgetisnull(res, r, c) ? "-" : PQgetvalue(res, r, c));
			}
		}
	}
}

static int dl_select(PGconn *conn, const struct dead_letters_opts *o, char *err, size_t errlen)
{
	struct dead_letters_filter f;
	dead_letters_filter(o, !o->pending, &f);
	char limit[24];
	snprintf(limit, sizeof(limit), "%lld", o->limit);
	const char *params[10];
	memcpy(params, f.v, sizeof(f.v));
	params[9] = limit;
	PGresult *res = NULL;
	if (db_exec(conn, dl_select_sql, 10, params, &res, err, errlen) != DB_OK)
		return -1;
	bool show = o->cmd == DEAD_LETTERS_SHOW;
	int rc = 0;
	if (o->json) {
		json_t *a = json_array();
		for (int r = 0; r < PQntuples(res); r++)
			json_array_append_new(a, dl_row_json(res, r, show));
		json_t *doc = json_pack("{s:o}", "dead_letters", a); /* "o" steals a */
		json_dumpf(doc, o->out, JSON_COMPACT);
		fputc('\n', o->out);
		json_decref(doc);
	} else if (show) {
		dl_print_show(res, o->out);
	} else {
		dl_print_table(res, o->out);
	}
	if (show && PQntuples(res) == 0) {
		snprintf(err, errlen, "no dead letter of %s/%lld/%lld%s%s", o->topic, o->partition,
		         o->offset, o->group ? " in group " : "", o->group ? o->group : "");
		rc = -1;
	}
	PQclear(res);
	return rc;
}

int dead_letters_run(PGconn *conn, const struct cfg *cfg, const struct dead_letters_opts *o,
                     char *err, size_t errlen)
{
	if (o->cmd == DEAD_LETTERS_REQUEUE)
		return requeue_run(conn, cfg, o, err, errlen);
	return dl_select(conn, o, err, errlen);
}
