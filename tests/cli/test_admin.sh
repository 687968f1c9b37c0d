#!/bin/sh
# test_admin.sh ADMIN SRCDIR - sipas-admin as an operator runs it.
#
# Every malformed definition in tests/data/defs/bad/ must exit 1 with one
# line "FILE: PATH: PROBLEM" (the expected text after "FILE: " is in the
# .expect file beside it) and leave the store byte for byte unchanged.
# Then verify and backup: usage, exit statuses, a damaged store.
set -u
ADMIN=$1
SRC=$2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sipas-admin-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
STORE="$TMP/store"
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect_status WANT DESCRIPTION -- COMMAND...
expect_status() {
	want=$1; what=$2; shift 3
	"$@" >"$TMP/out" 2>"$TMP/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok; else
		bad "$what: exit $got, want $want"; cat "$TMP/out" "$TMP/err"; fi
}

expect_out() {
	if grep -q -- "$1" "$TMP/out"; then ok; else
		bad "stdout lacks '$1'"; cat "$TMP/out"; fi
}

expect_status 0 "--help" -- "$ADMIN" --help
expect_out "Usage: sipas-admin"
expect_status 0 "--version" -- "$ADMIN" --version
expect_out "sipas-admin [0-9]"
expect_status 1 "no command" -- "$ADMIN"
expect_status 1 "unknown command" -- "$ADMIN" --store "$STORE" frobnicate
expect_status 1 "bad option" -- "$ADMIN" --frob
expect_status 1 "bad map size" -- "$ADMIN" --map-size 0 campaigns
expect_status 1 "missing file" -- "$ADMIN" --store "$STORE" define "$TMP/none.json"
expect_status 1 "show on empty store" -- "$ADMIN" --store "$STORE" show

# The contract's own example, then the project's examples.
expect_status 0 "define contract example" -- \
	"$ADMIN" --store "$STORE" define "$SRC/tests/data/defs/contract-example.json"
expect_out "SL-2024: stored revision 1-"
expect_status 0 "define again" -- \
	"$ADMIN" --store "$STORE" define "$SRC/tests/data/defs/contract-example.json"
expect_out "SL-2024: unchanged, current revision 1-"
for ex in "$SRC"/examples/*.json; do
	expect_status 0 "define $ex" -- "$ADMIN" --store "$STORE" define "$ex"
	expect_out "stored revision"
done
expect_status 0 "campaigns" -- "$ADMIN" --store "$STORE" campaigns
expect_out "^SL-2024 *revision 2-"
expect_out "^TN-2025 *revision 1-"
expect_out "^VN-2025 *revision 1-"
# One line per campaign: the contract's example shares SL-2024 with
# examples/sonla-2024.json, every other example adds one.
ncampaigns=$(wc -l <"$TMP/out")
expect_status 0 "show TN-2025" -- "$ADMIN" --store "$STORE" show TN-2025
expect_out "^campaign   TN-2025"
expect_out "^units      16$"
expect_status 0 "show" -- "$ADMIN" --store "$STORE" show VN-2025
expect_out "^campaign   VN-2025"
expect_status 1 "show ambiguous" -- "$ADMIN" --store "$STORE" show
expect_status 1 "show unknown" -- "$ADMIN" --store "$STORE" show XX

# show keeps its columns aligned whatever the lengths: ids of 13 bytes and
# more, units with different lists of forms, a form with 100 items or
# more, Vietnamese names. aligned FILE prints each misaligned column of
# the blocks, forms and units tables of FILE: the cells of a column must
# all start, or (numbers) all end, at one character column (UTF-8
# continuation bytes are not counted), and the names, last, must all
# start at one.
aligned() {
	LC_ALL=C awk '
	function width(s) { gsub(/[\200-\277]/, "", s); return length(s) }
	/^blocks / { sec = "blocks"; k = 3; n = 0; next }
	/^forms / { sec = "forms"; k = 7; n = 0; next }
	/^units / { sec = "units"; k = 3; n = 0; next }
	/^[^ ]/ { sec = ""; next }
	sec != "" {
		rest = $0; pos = 0; n++
		for (i = 1; i <= k + 1; i++) {
			lead = match(rest, /^ +/) ? RLENGTH : 0
			pos += lead; rest = substr(rest, lead + 1)
			tlen = match(rest, /^[^ ]+/) ? RLENGTH : 0
			st = pos; en = pos + width(substr(rest, 1, tlen))
			pos = en; rest = substr(rest, tlen + 1)
			if (n == 1) { s0[sec, i] = st; e0[sec, i] = en; continue }
			if (st != s0[sec, i]) ds[sec, i] = 1
			if (en != e0[sec, i]) de[sec, i] = 1
			if (ds[sec, i] && (de[sec, i] || i == k + 1) && !told[sec, i]++)
				print sec " column " i " misaligned: " $0
		}
	}' "$1"
}
# The checker must see a shifted name and a shifted number, and pass an
# aligned table whose names are Vietnamese.
printf 'units      2\n  a  b  f  Sở Nội vụ\n  ab  b  f  Xã Ba\n' >"$TMP/cols"
if [ -n "$(aligned "$TMP/cols")" ]; then ok; else bad "aligned: a shifted name passes"; fi
printf 'blocks     2\n  a  99 units  Tỉnh\n  b  100 units  Xã\n' >"$TMP/cols"
if [ -n "$(aligned "$TMP/cols")" ]; then ok; else bad "aligned: a shifted number passes"; fi
printf 'blocks     2\n  ả   99 units  Tỉnh Sơn La\n  bb 100 units  Xã\n' >"$TMP/cols"
if [ -z "$(aligned "$TMP/cols")" ]; then ok; else bad "aligned: an aligned table fails"; fi
items=$(i=0; sep=; while [ $i -lt 120 ]; do
	printf '%s{"id": "y-kien-%03d", "kind": "number", "min": 0, "max": 9}' "$sep" $i
	sep=,; i=$((i + 1)); done)
cat >"$TMP/long-ids.json" <<EOF
{"campaign": {"id": "LONG-IDS-2025", "title": "Chỉ số hài lòng - mã dài",
  "from": "2025-01-01", "to": "2025-12-31"},
 "blocks": [{"id": "so-ban-nganh-cap-tinh", "name": "Sở, ban, ngành cấp tỉnh"},
  {"id": "xa", "name": "UBND cấp xã"}],
 "forms": [{"id": "truc-tiep", "name": "Trực tiếp tại Bộ phận một cửa",
   "groups": [{"id": "g", "criteria": [{"id": "c"}]}]},
  {"id": "dich-vu-cong-truc-tuyen", "name": "Dịch vụ công trực tuyến",
   "groups": [{"id": "g", "criteria": [{"id": "c"}]}], "items": [$items]}],
 "units": [
  {"id": "SO-NOI-VU-TINH-SON-LA", "name": "Sở Nội vụ",
   "block": "so-ban-nganh-cap-tinh", "forms": ["truc-tiep", "dich-vu-cong-truc-tuyen"]},
  {"id": "XA-MUONG-BU", "name": "UBND xã Mường Bú", "block": "xa", "forms": ["truc-tiep"]},
  {"id": "U1", "name": "Xã Chiềng Sơ", "block": "xa", "forms": ["dich-vu-cong-truc-tuyen"]}]}
EOF
expect_status 0 "define long ids" -- "$ADMIN" --store "$TMP/long" define "$TMP/long-ids.json"
expect_status 0 "show long ids" -- "$ADMIN" --store "$TMP/long" show
expect_out "^  SO-NOI-VU-TINH-SON-LA  *so-ban-nganh-cap-tinh  *truc-tiep,dich-vu-cong-truc-tuyen  *Sở Nội vụ$"
expect_out "^  dich-vu-cong-truc-tuyen  *1 groups,  *1 criteria, 120 items  Dịch vụ công trực tuyến$"
misaligned=$(aligned "$TMP/out")
if [ -z "$misaligned" ]; then ok; else bad "show long ids: $misaligned"; cat "$TMP/out"; fi
# The examples too: SL-2024's units have one form or two.
for id in SL-2024 TN-2025 VN-2025; do
	"$ADMIN" --store "$STORE" show "$id" >"$TMP/out" 2>&1
	misaligned=$(aligned "$TMP/out")
	if [ -z "$misaligned" ] && grep -q "^units " "$TMP/out"; then ok; else
		bad "show $id: $misaligned"; cat "$TMP/out"; fi
done

# SIPAS_HOME picks the default store folder.
expect_status 0 "SIPAS_HOME" -- env SIPAS_HOME="$TMP/home" "$ADMIN" \
	define "$SRC/tests/data/defs/contract-example.json"
if [ -f "$TMP/home/sipas-store/data.mdb" ]; then ok; else
	bad "SIPAS_HOME: no $TMP/home/sipas-store/data.mdb"; fi

# A store that cannot be opened: exit 2.
: >"$TMP/afile"
expect_status 2 "store is a file" -- \
	"$ADMIN" --store "$TMP/afile" define "$SRC/tests/data/defs/contract-example.json"

# Malformed definitions: exit 1, one line naming file, path, problem;
# the store unchanged.
before=$(md5sum <"$STORE/data.mdb")
n=0
for f in "$SRC"/tests/data/defs/bad/*.json; do
	n=$((n + 1))
	want="$f: $(cat "${f%.json}.expect")"
	"$ADMIN" --store "$STORE" define "$f" >"$TMP/out" 2>"$TMP/err"
	got=$?
	lines=$(wc -l <"$TMP/err")
	if [ "$got" -eq 1 ] && [ "$lines" -eq 1 ] &&
	   [ "$(cat "$TMP/err")" = "$want" ] && [ ! -s "$TMP/out" ]; then
		ok
	else
		bad "$f: exit $got, $lines lines"
		echo "  want: $want"
		echo "  got:  $(cat "$TMP/err")"
	fi
done
if [ "$n" -ge 10 ]; then ok; else bad "only $n malformed definitions"; fi
after=$(md5sum <"$STORE/data.mdb")
if [ "$before" = "$after" ]; then ok; else bad "store changed by bad files"; fi

# verify: exit 0 when the records agree with the responses, 1 on any
# difference (one line each, then the summary), 2 when there is no store.
expect_status 1 "verify: too many arguments" -- "$ADMIN" --store "$STORE" verify a b
expect_status 0 "verify" -- "$ADMIN" --store "$STORE" verify
expect_out "^verified 0 responses, .* as of transaction [0-9]*: no difference$"
expect_status 0 "verify one campaign" -- "$ADMIN" --store "$STORE" verify SL-2024
expect_status 1 "verify unknown campaign" -- "$ADMIN" --store "$STORE" verify XX
if grep -q "no campaign XX" "$TMP/err"; then ok; else bad "verify XX: $(cat "$TMP/err")"; fi
expect_status 2 "verify: no store" -- "$ADMIN" --store "$TMP/nostore" verify
if [ ! -e "$TMP/nostore" ]; then ok; else bad "verify created $TMP/nostore"; fi
expect_status 2 "verify: store is a file" -- "$ADMIN" --store "$TMP/afile" verify

# backup: DEST must be new or empty (exit 1 otherwise); the copy is a
# store folder holding data.mdb alone, usable with --store.
expect_status 1 "backup: no DEST" -- "$ADMIN" --store "$STORE" backup
expect_status 1 "backup: two DESTs" -- "$ADMIN" --store "$STORE" backup "$TMP/b1" "$TMP/b2"
expect_status 2 "backup: no store" -- "$ADMIN" --store "$TMP/nostore" backup "$TMP/b0"
if [ ! -e "$TMP/b0" ]; then ok; else bad "backup of no store created $TMP/b0"; fi
expect_status 0 "backup" -- "$ADMIN" --store "$STORE" backup "$TMP/backups/b1"
expect_out "^backup $TMP/backups/b1/data.mdb: [0-9]* bytes (.* MiB), 0 responses (last 0), 0 quarantined, $ncampaigns campaigns, as of transaction [0-9]*$"
if [ "$(ls -A "$TMP/backups/b1")" = "data.mdb" ]; then ok; else
	bad "backup folder holds: $(ls -A "$TMP/backups/b1")"; fi
expect_status 1 "backup: DEST not empty" -- "$ADMIN" --store "$STORE" backup "$TMP/backups/b1"
if grep -q "not empty" "$TMP/err"; then ok; else bad "not empty: $(cat "$TMP/err")"; fi
expect_status 1 "backup: DEST is a file" -- "$ADMIN" --store "$STORE" backup "$TMP/afile"
if grep -q "not a folder" "$TMP/err"; then ok; else bad "not a folder: $(cat "$TMP/err")"; fi
mkdir "$TMP/empty"
expect_status 0 "backup into an empty folder" -- "$ADMIN" --store "$STORE" backup "$TMP/empty"
# A copy that cannot be written (file size limit: EFBIG) is an error, exit
# 2, and leaves no folder under the name it was asked for.
expect_status 2 "backup: write fails" -- sh -c 'trap "" XFSZ; ulimit -f 4; exec "$0" --store "$1" backup "$2"' \
	"$ADMIN" "$STORE" "$TMP/bfail/one"
if [ ! -e "$TMP/bfail/one" ]; then ok; else bad "failed backup left $TMP/bfail/one"; fi
expect_status 0 "campaigns of the backup" -- "$ADMIN" --store "$TMP/backups/b1" campaigns
expect_out "^VN-2025 *revision 1-"
expect_status 0 "verify the backup" -- "$ADMIN" --store "$TMP/backups/b1" verify

# Damage the store behind its back (lmdb-utils): a counter record with no
# response behind it, statistics that claim responses.
if command -v mdb_load >/dev/null 2>&1; then
	printf 'SL-2024\\00U1\\00f\nSC\\01\\02\\00\\00\nSL-2024\\00\\00\n\\05\\00\\00\\00\n' |
		mdb_load -T -s counters "$STORE"
	expect_status 1 "verify a damaged store" -- "$ADMIN" --store "$STORE" verify
	expect_out "^stray-counter SL-2024/U1/f: stored 2 respondents, recomputed none$"
	expect_out "^stats SL-2024 accepted: stored 5, recomputed 0$"
	expect_out ": 2 differences$"
	expect_status 0 "verify another campaign" -- "$ADMIN" --store "$STORE" verify VN-2025
	# The backup taken before is untouched.
	expect_status 0 "verify the backup again" -- "$ADMIN" --store "$TMP/backups/b1" verify
else
	echo "admin_cli: mdb_load not found (lmdb-utils): damaged-store cases skipped"
fi

echo "admin_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
