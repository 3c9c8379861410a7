/*
 * facts: the per-call fact list, its keys and the mapping from key_variables (see facts.h).
 * The transcript scanners live in facts_scan.c.
 */
#include "facts.h"

#include <string.h>

#include "facts_scan.h"
#include "text.h"

static const struct {
	const char *name;
	bool single;
} facts_kinds[FACTS_KIND_COUNT] = {
	[FACTS_NAME] = { "name", true },
	[FACTS_EMAIL] = { "email", true },
	[FACTS_ADDRESS] = { "address", true },
	[FACTS_CONTACT_PREFERENCE] = { "contact_preference", true },
	[FACTS_PHONE] = { "phone", false },
	[FACTS_POLICY_NUMBER] = { "policy_number", false },
	[FACTS_CLAIM_NUMBER] = { "claim_number", false },
	[FACTS_ACCOUNT_NUMBER] = { "account_number", false },
	[FACTS_ORDER_NUMBER] = { "order_number", false },
	[FACTS_VEHICLE] = { "vehicle", false },
	[FACTS_FAMILY_MEMBER] = { "family_member", false },
	[FACTS_APPOINTMENT] = { "appointment", false },
	[FACTS_FOLLOW_UP] = { "follow_up", false },
};

/* key_variables lists and the kind each maps to; amounts and dates are left out (an amount
 * or a date means nothing without what it was for). */
static const struct {
	const char *key;
	enum facts_kind kind;
} facts_var_map[] = {
	{ "emails", FACTS_EMAIL },
	{ "phone_numbers", FACTS_PHONE },
	{ "policy_numbers", FACTS_POLICY_NUMBER },
	{ "claim_numbers", FACTS_CLAIM_NUMBER },
	{ "vehicles", FACTS_VEHICLE },
};

/* Address words spelled two ways, folded to one in the key ("123 Main St." is
 * "123 Main Street"). */
static const char *const facts_addr_abbr[][2] = {
	{ "st", "street" },   { "ave", "avenue" },    { "av", "avenue" },      { "rd", "road" },
	{ "dr", "drive" },    { "ln", "lane" },       { "blvd", "boulevard" }, { "ct", "court" },
	{ "pl", "place" },    { "pkwy", "parkway" },  { "hwy", "highway" },    { "cir", "circle" },
	{ "ter", "terrace" }, { "apt", "apartment" }, { "ste", "suite" },      { "n", "north" },
	{ "s", "south" },     { "e", "east" },        { "w", "west" },
};

const char *facts_kind_name(enum facts_kind kind)
{
	return kind < FACTS_KIND_COUNT ? facts_kinds[kind].name : "unknown";
}

bool facts_kind_single(enum facts_kind kind)
{
	return kind < FACTS_KIND_COUNT && facts_kinds[kind].single;
}

void facts_init(struct facts *f)
{
	memset(f, 0, sizeof(*f));
}

static bool facts_keychar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c >= 0x80 || c == '@' ||
	       c == '.' || c == '_' || c == '+' || c == '-';
}

/* Appends word w (lower case) to the key, through the address abbreviations for an address. */
static void facts_key_word(char *key, size_t *o, const char *w, size_t n, bool address)
{
	if (address)
		for (size_t i = 0; i < sizeof(facts_addr_abbr) / sizeof(facts_addr_abbr[0]); i++)
			if (strlen(facts_addr_abbr[i][0]) == n &&
			    memcmp(w, facts_addr_abbr[i][0], n) == 0) {
				w = facts_addr_abbr[i][1];
				n = strlen(w);
				break;
			}
	if (*o > 0 && *o < FACTS_VALUE_MAX)
		key[(*o)++] = ' ';
	for (size_t i = 0; i < n && *o < FACTS_VALUE_MAX; i++)
		key[(*o)++] = w[i];
}

/* The key: ASCII lower case, words of [0-9a-z@._+-] and non-ASCII bytes (dots and dashes
 * trimmed from each word's ends), joined by single spaces. */
static size_t facts_key(enum facts_kind kind, const char *v, size_t len, char *key)
{
	size_t o = 0, i = 0;
	char w[FACTS_VALUE_MAX];
	while (i < len) {
		size_t n = 0;
		while (i < len && facts_keychar((unsigned char)text_lower(v[i])) && n < sizeof(w))
			w[n++] = text_lower(v[i++]);
		size_t a = 0;
		while (a < n && (w[a] == '.' || w[a] == '-'))
			a++;
		while (n > a && (w[n - 1] == '.' || w[n - 1] == '-'))
			n--;
		if (n > a)
			facts_key_word(key, &o, w + a, n - a, kind == FACTS_ADDRESS);
		while (i < len && !facts_keychar((unsigned char)text_lower(v[i])))
			i++;
	}
	key[o] = '\0';
	return o;
}

bool facts_add(struct facts *f, enum facts_kind kind, const char *value, size_t len)
{
	while (len > 0 && (*value == ' ' || *value == ','))
		value++, len--;
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == ','))
		len--;
	if (kind >= FACTS_KIND_COUNT || len == 0 || len > FACTS_VALUE_MAX ||
	    !text_utf8_valid(value, len))
		return false;
	char key[FACTS_VALUE_MAX + 1];
	if (facts_key(kind, value, len, key) == 0)
		return false;
	for (size_t i = 0; i < f->n; i++) {
		struct facts_item *it = &f->item[i];
		if (it->kind != kind)
			continue;
		if (strcmp(it->key, key) == 0)
			return !it->dropped;
		if (facts_kind_single(kind)) {
			it->dropped = true; /* two values in one call: neither is trusted */
			return false;
		}
	}
	if (f->n == FACTS_MAX)
		return false;
	struct facts_item *it = &f->item[f->n++];
	it->kind = kind;
	it->dropped = false;
	memcpy(it->value, value, len);
	it->value[len] = '\0';
	memcpy(it->key, key, strlen(key) + 1);
	return true;
}

static void facts_from_vars(struct facts *f, const json_t *vars)
{
	const char *name = json_string_value(json_object_get(vars, "caller_name"));
	if (name != NULL)
		facts_add(f, FACTS_NAME, name, strlen(name));
	for (size_t m = 0; m < sizeof(facts_var_map) / sizeof(facts_var_map[0]); m++) {
		const json_t *list = json_object_get(vars, facts_var_map[m].key);
		size_t i;
		const json_t *v;
		json_array_foreach(list, i, v)
		{
			if (json_is_string(v))
				facts_add(f, facts_var_map[m].kind, json_string_value(v),
				          json_string_length(v));
		}
	}
}

json_t *facts_json(const struct facts *f)
{
	json_t *out = json_array();
	for (size_t i = 0; i < f->n; i++) {
		const struct facts_item *it = &f->item[i];
		if (it->dropped)
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "kind", json_string(facts_kind_name(it->kind)));
		json_object_set_new(o, "value", json_string(it->value));
		json_object_set_new(o, "key", json_string(it->key));
		json_object_set_new(o, "single", json_boolean(facts_kind_single(it->kind)));
		json_array_append_new(out, o);
	}
	return out;
}

json_t *facts_from_call(const struct event_call *call, const json_t *key_variables)
{
	struct facts f;
	facts_init(&f);
	if (json_is_object(key_variables))
		facts_from_vars(&f, key_variables);
	for (size_t t = 0; call != NULL && t < call->nturns; t++) {
		const struct event_turn *turn = &call->turns[t];
		if ((turn->role != EVENT_ROLE_USER && turn->role != EVENT_ROLE_ASSISTANT) ||
		    turn->text == NULL)
			continue;
		facts_scan_turn(&f, turn->text, turn->text_len, turn->role == EVENT_ROLE_USER);
	}
	facts_scan_finish(&f);
	return facts_json(&f);
}
