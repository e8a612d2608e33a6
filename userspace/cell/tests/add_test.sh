#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# add_test.sh BUILD TOP: cells from git (Documentation/ribosome.rst).  A
# fixture repository made from userspace/examples/hello is added with
# `cell add file://...` (built, same DNA as `cell dna` of a clone), run in
# its capsid with `cell run` under a celld, and answers a call; a changed
# schema's build runs beside it as hello@1 and both answer.  URLs other
# than file:// and local paths are refused.  With keys in the state dir's
# ribosome/keys: no tag, a tag signed by an unknown SSH key, an unsigned
# tag and a lightweight tag are refused and build nothing, and so are a
# tag named like the object id of a signed tag (git resolves such a name to
# that object: the signature checked would not be the ref's) and a signed
# tag under another name; tags signed by a known SSH key or a known
# OpenPGP key are built.
# shellcheck disable=SC2034 # out and rc are read by the check strings (eval)
set -u
BIN=$(cd "$1" && pwd)
TOP=$(cd "$2" && pwd)
# shellcheck source=userspace/celld/tests/lib.sh
. "$TOP/userspace/celld/tests/lib.sh"
# shellcheck source=userspace/cell/tests/ribosome_lib.sh
. "$TOP/userspace/cell/tests/ribosome_lib.sh"
ribosome_begin 23
gpg_homes=()
finish() {
	for h in "${gpg_homes[@]}"; do gpgconf --homedir "$h" --kill all 2>/dev/null; done
	cleanup
}
trap finish EXIT
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }
cache=$RUN/state/ribosome

repo=$RUN/fixture
ribosome_fixture "$repo"
git clone -q "$repo" "$RUN/clone"
dna=$(cell dna "$RUN/clone" | head -1 | cut -d' ' -f1)

out=$(cell add "file://$repo"); rc=$?
check "cell add file://: built, not verified (no keys) (got: $out)" \
	'[ $rc -eq 0 ] && [[ "$out" == *"hello: HEAD ("*") not verified (the node has no keys)"* ]] && [[ "$out" == *"hello: built $dna: $cache/$dna/hello"* ]]'
check "the clone is kept in ribosome/src/hello, names/hello points at its DNA" \
	'[ -f "$cache/src/hello/cell.conf" ] && [ "$(readlink "$cache/names/hello")" = "../$dna" ] && [ -z "$(ls -A "$cache/tmp")" ]'
out=$(cell add "$repo"); rc=$?
check "a local path is taken too: the same DNA, cached" '[ $rc -eq 0 ] && [[ "$out" == *"hello: cached $dna:"* ]]'
bad=0
for url in https://example.invalid/x.git ssh://example.invalid/x git://example.invalid/x \
	example.invalid:x.git "$RUN/nowhere"; do
	out=$(cell add "$url" 2>&1) && bad=1
	[[ "$out" == *"only file:// URLs and local directories are cloned (no network)"* ]] || bad=1
done
check "https, ssh, git, scp-like and absent paths are refused" '[ $bad -eq 0 ]'
# A cell.conf that is a symlink out of the tree: refused, the file it names not read.
echo "name=SECRETLINE" >"$RUN/outside.conf"
lrepo=$RUN/linked
mkdir -p "$lrepo"
cp "$TOP"/userspace/examples/hello/* "$lrepo/"
ln -sf "$RUN/outside.conf" "$lrepo/cell.conf"
git -C "$lrepo" init -q && git -C "$lrepo" add . && git -C "$lrepo" commit -q -m linked
out=$(cell add "$lrepo" 2>&1); rc=$?
check "a cell.conf symlinked out of the tree: refused, its target not read (got: $out)" \
	'[ $rc -eq 1 ] && [[ "$out" == *"cell.conf is not a regular file"* ]] && [[ "$out" != *SECRETLINE* ]]'

# cell run: the build in its capsid, through celld's spawn.
chmod 755 "$RUN"
mkdir -p "$RUN/probe-sock" "$RUN/probe-data"
if why=$("$BIN/userspace/celld/capsid_run" probe "$RUN/probe-sock" "$RUN/probe-data" -- \
	/usr/bin/true 2>&1); then
	start_celld -S -o capsid.spawn=1
	out=$(cell run hello -o ro="$BIN" --wait 2>&1); rc=$?
	check "cell run hello: spawned and ready in its capsid (got: $out)" \
		'[ $rc -eq 0 ] && [[ "$out" == "hello: pid "[0-9]*", ready" ]]'
	out=$(CELL_RUNTIME_DIR=$CELL_RUNTIME_DIR/capsid/hello cell call -j hello greet '{"name": "ribosome"}' 2>&1)
	check "the cell answers a call (got: $out)" '[ "$out" = "{\"text\":\"hello, ribosome\"}" ]'
	check "cell ps: origin capsid" 'cell ps -j hello | grep -q "\"origin\":\"capsid\""'
	# A new schema, a new DNA: cell run starts it beside the old (capsid.rst, instances).
	git clone -q "$repo" "$RUN/evolved"
	sed -i 's/string text;/string text; u32 n;/' "$RUN/evolved/hello.cell"
	git -C "$RUN/evolved" commit -q -am "greeting: a number"
	out=$(cell add "$RUN/evolved"); rc=$?
	check "cell add of a changed schema: another DNA built" \
		'[ $rc -eq 0 ] && [[ "$out" == *"hello: built "* ]] && [[ "$out" != *"$dna"* ]]'
	out=$(cell run hello -o ro="$BIN" 2>&1)
	ready1() { cell ps -j hello@1 | grep -q '"state":"ready"'; }
	waited() { for _ in $(seq 300); do "$@" && return 0; sleep 0.05; done; return 1; }
	check "cell run of the new DNA starts it beside the old, as hello@1 (got: $out)" \
		'[[ "$out" == "hello@1: pid "[0-9]*", starting" ]] && waited ready1'
	old=$(cell call -j hello greet '{"name": "old"}' 2>&1)
	new=$(cell call -j hello@1 greet '{"name": "new"}' 2>&1)
	check "both answer, each with its own schema (got: $old $new)" \
		'[ "$old" = "{\"text\":\"hello, old\"}" ] && [ "$new" = "{\"text\":\"hello, new\",\"n\":0}" ]'
	out=$(cell stop hello@1 && cell stop hello)
	check "cell stop hello@1, hello (got: $out)" '[[ "$out" == *"hello: pid 0, stopped" ]]'
else
	for c in "cell run hello" "the cell answers a call" "cell ps" "cell add of a changed schema" \
		"cell run beside" "both answer" "cell stop"; do
		skip "$c" "capsid: cannot start one here: $why"
	done
fi
out=$(cell run nosuch 2>&1); rc=$?
check "cell run of a name never built: refused" '[ $rc -eq 1 ] && [[ "$out" == *"nosuch is not built here"* ]]'

# Keys: SSH allowed signers.
ssh-keygen -q -t ed25519 -N '' -C known -f "$RUN/known"
ssh-keygen -q -t ed25519 -N '' -C stranger -f "$RUN/stranger"
mkdir -p "$cache/keys"
echo "test@cell.invalid $(cat "$RUN/known.pub")" >"$cache/keys/allowed_signers"
builds() { find "$cache" -maxdepth 1 -name '????????????????????????????????????????????????????????????????' | wc -l; }
before=$(builds)
out=$(cell add "$repo" 2>&1); rc=$?
check "with keys, an untagged repository is refused" '[ $rc -eq 1 ] && [[ "$out" == *"has no tag: the node has keys"* ]]'
sshtag() { # KEY TAG DATE
	GIT_COMMITTER_DATE=$3 git -C "$repo" -c gpg.format=ssh -c user.signingkey="$1" \
		tag -s -m "$2" "$2"
}
sshtag "$RUN/known" v1 2026-01-03T00:00:00Z
out=$(cell add "$repo"); rc=$?
check "a tag signed by a known SSH key: verified and built (got: $out)" \
	'[ $rc -eq 0 ] && [[ "$out" == *"hello: v1 ("*") verified: Good \"git\" signature for test@cell.invalid with ED25519 key"* ]] && [[ "$out" == *"hello: cached $dna:"* ]]'
sed -i 's/hello, /hi, /' "$repo/hello_server.c"
GIT_COMMITTER_DATE="2026-01-04T00:00:00Z" git -C "$repo" commit -q -am hi --date="2026-01-04T00:00:00Z"
sshtag "$RUN/stranger" v2 2026-01-04T00:00:00Z
out=$(cell add "$repo" 2>&1); rc=$?
check "the newest tag signed by an unknown key: refused (got: $out)" \
	'[ $rc -eq 1 ] && [[ "$out" == *"tag v2: refused, not signed by a key of $cache/keys"* ]] && [[ "$out" == *"No principal matched"* ]]'
check "and nothing was built or left, names/hello unchanged" \
	'[ "$(builds)" = "$before" ] && [ -z "$(find "$cache/src" -maxdepth 1 -name ".*.*")" ] && [ "$(readlink "$cache/names/hello")" = "../$dna" ] && grep -q "hello, " "$cache/src/hello/hello_server.c"'
git -C "$repo" tag -d v2 >/dev/null
GIT_COMMITTER_DATE="2026-01-05T00:00:00Z" git -C "$repo" tag -a -m v3 v3
out=$(cell add "$repo" 2>&1); rc=$?
check "an unsigned annotated tag: refused (got: $out)" '[ $rc -eq 1 ] && [[ "$out" == *"tag v3: refused"*"no signature found"* ]]'
git -C "$repo" tag -d v3 >/dev/null
GIT_COMMITTER_DATE="2026-01-06T00:00:00Z" git -C "$repo" tag v4
out=$(cell add "$repo" 2>&1); rc=$?
check "a lightweight tag: refused" '[ $rc -eq 1 ] && [[ "$out" == *"tag v4: refused"* ]] && [ "$(builds)" = "$before" ]'
git -C "$repo" tag -d v4 >/dev/null
# A ref named like the signed tag v1's object id, on an unsigned commit (the newest).
v1=$(git -C "$repo" rev-parse v1)
git -C "$repo" tag "$v1" HEAD 2>/dev/null
out=$(cell add "$repo" 2>&1); rc=$?
check "a tag named like a signed tag's object id, on an unsigned commit: refused (got: $out)" \
	'[ $rc -eq 1 ] && [[ "$out" == *"tag $v1: refused"* ]] && [ "$(builds)" = "$before" ] && grep -q "hello, " "$cache/src/hello/hello_server.c"'
git -C "$repo" tag -d "$v1" >/dev/null 2>&1
git -C "$repo" tag v9 v1 # the signed tag object v1 under the newer name v9
out=$(cell add "$repo" 2>&1); rc=$?
check "a signed tag under another name: refused (got: $out)" \
	'[ $rc -eq 1 ] && [[ "$out" == *"tag v9: refused, it is the signed tag '"'v1'"' under another name"* ]]'
git -C "$repo" tag -d v9 >/dev/null

# Keys: an OpenPGP key in ribosome/keys/gnupg.
if command -v gpg >/dev/null; then
	signer=$RUN/gpg-signer
	mkdir -m 700 "$signer" "$cache/keys/gnupg"
	gpg_homes+=("$signer" "$cache/keys/gnupg")
	GNUPGHOME=$signer gpg --batch --quiet --passphrase '' --quick-gen-key \
		'Signer <signer@cell.invalid>' ed25519 sign never 2>/dev/null
	fpr=$(GNUPGHOME=$signer gpg --with-colons --list-keys signer@cell.invalid 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')
	GNUPGHOME=$signer GIT_COMMITTER_DATE=2026-01-07T00:00:00Z git -C "$repo" \
		-c user.signingkey="$fpr" tag -s -m v5 v5
	out=$(cell add "$repo" 2>&1); rc=$?
	check "an OpenPGP-signed tag, key not in the node's keyring: refused" \
		'[ $rc -eq 1 ] && [[ "$out" == *"tag v5: refused"*"No public key"* ]]'
	GNUPGHOME=$signer gpg --armor --export "$fpr" | GNUPGHOME=$cache/keys/gnupg gpg --batch --quiet --import 2>/dev/null
	out=$(cell add -j "$repo"); rc=$?
	check "with the key imported: verified, the new commit built (got: $out)" \
		'[ $rc -eq 0 ] && echo "$out" | python3 -c "import json,sys; j=json.load(sys.stdin); assert j[\"ref\"]==\"v5\" and j[\"verified\"] and \"Good signature\" in j[\"signer\"] and j[\"dna\"]!=\"$dna\" and not j[\"cached\"]"'
else
	skip "an OpenPGP-signed tag, unknown key" "no gpg (tools/deps.sh build)"
	skip "an OpenPGP-signed tag, known key" "no gpg (tools/deps.sh build)"
fi
exit $fail
