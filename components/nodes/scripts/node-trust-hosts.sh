#!/usr/bin/env bash
# Node trust for a private registry, part 4 of 6: the opt-ins outside the runtimes, /etc/hosts and the
# system CA store. Follows node-trust-docker.sh in the script components/nodes/nodeScripts.ts sends (see there).
HOSTS_WANT=''

# Our marked line "<ip> <host> # <id>", and with the comment-out opt-in, other lines that map the host
# turned into "# private-registry <id>: <line>"; a line that maps other names too gets a stand-in with
# those names right below it, so that commenting out a "127.0.0.1 localhost <host>" keeps localhost.
# rep=1 prints the report lines instead of the file.
# shellcheck disable=SC2016 # the $ are awk's
HOSTS_AWK='
function ours(l) { return length(l) >= length(m) && substr(l, length(l) - length(m) + 1) == m }
function stood(l) { return length(l) >= length(stand) && substr(l, length(l) - length(stand) + 1) == stand }
function maps(l,   a, n, i) { sub(/#.*/, "", l); n = split(l, a); for (i = 2; i <= n; i++) if (tolower(a[i]) == tolower(h)) return 1; return 0 }
function rest(l,   a, n, i, out, k) {
  sub(/#.*/, "", l); n = split(l, a); out = a[1]
  for (i = 2; i <= n; i++) if (tolower(a[i]) != tolower(h)) { out = out " " a[i]; k++ }
  return k ? out : ""
}
function out(s) { if (!rep) print s }
function note(s) { if (rep) print "hosts: " s }
BEGIN { m = " # " id; cpre = "# private-registry " id ": "; stand = " # private-registry " id ": without " h }
ours($0) { if (want != "" && !done) out(want); done = 1; next }
index($0, cpre) == 1 {
  line = substr($0, length(cpre) + 1)
  if (co) { out($0); note("commented out (restored on delete): " line) } else out(line)
  next
}
stood($0) { if (co) out($0); next }
maps($0) {
  # another stack marked it: that stack owns it
  if (co && $0 !~ / # private-registry-[a-z0-9-]+$/) {
    out(cpre $0); r = rest($0); if (r != "") out(r stand)
    note("commented out (restored on delete): " $0)
  } else {
    out($0); if (want != "") note("other line maps " h ": " $0)
  }
  next
}
{ out($0) }
END { if (want != "" && !done) out(want) }
'

# shellcheck disable=SC2034 # HOSTS_WANT and STEP are read in node-trust-steps.sh and node-trust.sh
hosts_line() { # hosts_line <line or "">: our marked line becomes exactly this (or goes away); other lines for the name are reported
  local f=/etc/hosts want=$1 new co=0 args
  HOSTS_WANT=$want
  # cleanRecipe comments out the recipe's line too: with our line there, the name needs no other
  if [[ -n $want ]] && ((HOSTS_COMMENT_OUT || CLEAN_RECIPE)); then co=1; fi
  if [[ ! -f $f ]]; then [[ -z $want ]] && return 0; : > "$f"; fi
  STEP="read $f"
  args=(-v id="$ID" -v h="${REGISTRY%%:*}" -v want="$want" -v co="$co")
  new=$(awk "${args[@]}" "$HOSTS_AWK" "$f")
  # line by line the same: nothing to write (whatever the final newline)
  if [[ $new == "$(cat -- "$f")" ]]; then
    if [[ -n $want ]]; then say unchanged "$f"; fi
  else
    STEP="edit $f"
    # Remember a missing final newline so delete can give the file back byte for byte.
    if [[ -n $want && -s $f && -n $(tail -c1 -- "$f") ]]; then record hostsnl; fi
    # In place: /etc/hosts is often a bind mount that cannot be replaced by rename.
    if [[ -z $want ]] && has_entry hostsnl; then printf '%s' "$new" > "$f"; else emit "$new" > "$f"; fi
    say changed "$f"
  fi
  awk "${args[@]}" -v rep=1 "$HOSTS_AWK" "$f"
}

trust_layout() { # sets TRUST_DIR, TRUST_TOOL and TRUST_PENDING for this node's CA store, or refuses naming the node
  local f id='' like='' words
  for f in /etc/os-release /usr/lib/os-release; do
    [[ -r $f ]] || continue
    id=$(awk -F= '$1 == "ID" { gsub(/["\047]/, "", $2); print $2 }' "$f")
    like=$(awk -F= '$1 == "ID_LIKE" { gsub(/["\047]/, "", $2); print $2 }' "$f")
    break
  done
  words=" $id $like "
  TRUST_LAYOUT=''
  case $words in
    *" rhel "* | *" fedora "* | *" centos "* | *" amzn "*) TRUST_LAYOUT=rhel ;;
    *" suse "* | *" opensuse "* | *" sles "*) TRUST_LAYOUT=suse ;;
    *" debian "* | *" ubuntu "* | *" alpine "*) TRUST_LAYOUT=debian ;;
  esac
  # no os-release at all: the layout whose tool and directory are there
  if [[ -z $id$like ]]; then
    if command -v update-ca-trust >/dev/null && [[ -d /etc/pki/ca-trust/source/anchors ]]; then TRUST_LAYOUT=rhel
    elif command -v update-ca-certificates >/dev/null && [[ -d /etc/pki/trust/anchors ]]; then TRUST_LAYOUT=suse
    elif command -v update-ca-certificates >/dev/null && [[ -d /usr/local/share/ca-certificates ]]; then TRUST_LAYOUT=debian; fi
  fi
  case $TRUST_LAYOUT in
    debian) TRUST_DIR=/usr/local/share/ca-certificates TRUST_TOOL=update-ca-certificates TRUST_PENDING=ca ;;
    suse) TRUST_DIR=/etc/pki/trust/anchors TRUST_TOOL=update-ca-certificates TRUST_PENDING=ca-suse ;;
    rhel) TRUST_DIR=/etc/pki/ca-trust/source/anchors TRUST_TOOL=update-ca-trust TRUST_PENDING=ca-rhel ;;
    *) fail "system trust on node $(node_name)" "no supported system CA store (os-release ID=${id:-none}, ID_LIKE=${like:-none}); supported are Debian, Ubuntu and Alpine (/usr/local/share/ca-certificates, update-ca-certificates), the RHEL family (/etc/pki/ca-trust/source/anchors, update-ca-trust) and SUSE (/etc/pki/trust/anchors, update-ca-certificates): turn systemTrust off for this node" ;;
  esac
  command -v "$TRUST_TOOL" >/dev/null ||
    fail "system trust on node $(node_name)" "$TRUST_TOOL not found, which the $TRUST_LAYOUT layout of its CA store needs (install ca-certificates, or turn systemTrust off for this node)"
}

node_name() { printf '%s' "${NODE:-$(uname -n)}"; }

system_trust() { # system_trust <file name>: the CA in this node's system store
  trust_layout
  local path="$TRUST_DIR/$1"
  # pending before the write, so a run cut short after it still rebuilds the store
  if ! same "$path" "$(ca_pem)"; then need "$TRUST_PENDING" "installed $path"; fi
  put "$path" whole "$(ca_pem)"
  # Debian's store has a link per certificate (Alpine's with a ca-cert- prefix), missing when it was rebuilt without ours
  if [[ $TRUST_LAYOUT == debian && ! -e /etc/ssl/certs/${1%.crt}.pem && ! -e /etc/ssl/certs/ca-cert-${1%.crt}.pem ]]; then
    need ca "installed $path"
  fi
}

trust_removed() { # trust_removed <path>: a removed CA file; its store is rebuilt without it
  case $1 in
    # plain update-ca-certificates leaves the removed certificate's links in /etc/ssl/certs; --fresh rebuilds them
    /usr/local/share/ca-certificates/*) need ca-fresh "removed $1" ;;
    /etc/pki/trust/anchors/*) need ca-suse "removed $1" ;;
    /etc/pki/ca-trust/source/anchors/*) need ca-rhel "removed $1" ;;
  esac
}
