# debian-testing.sh — sourced by the fetch-*.sh scripts: packages from Debian's
# testing suite (unstable as a fallback), fetched through the mirror the system's
# apt sources already use, without touching the system's package state.

# The address of the Debian archive the apt sources use (its main archive, not the
# security one), updating the package lists once if needed.
debian_mirror() {
  local codename mirror
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  _debian_mirror_of() {
    apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' 2>/dev/null |
      awk -v c="$codename" '$2 == c && $3 == "main" { print $1; exit }'
  }
  mirror="$(_debian_mirror_of)"
  if [ -z "$mirror" ]; then
    if [ "$(id -u)" -eq 0 ]; then apt-get update -qq; else sudo apt-get update -qq; fi
    mirror="$(_debian_mirror_of)"
  fi
  [ -n "$mirror" ] && echo "$mirror"
}

# debian_fetch WORK ARCHIVES APT-GET-ARGS... — runs `apt-get APT-GET-ARGS` in ARCHIVES
# against Debian testing, then unstable, with apt's sources, lists and package
# database (empty: every dependency counts as missing) under WORK; the .deb files
# land in ARCHIVES. Prints the suite that worked; fails when neither did.
debian_fetch() {
  local work=$1 archives=$2 mirror arch suite
  shift 2
  mirror="$(debian_mirror)" || return 1
  arch="$(dpkg --print-architecture)"
  mkdir -p "$work/lists/partial" "$work/state" "$archives/partial"
  : >"$work/status"
  for suite in testing unstable; do
    echo "deb $mirror $suite main" >"$work/sources.list"
    local o=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
             -o "Dir::State::Lists=$work/lists" -o "Dir::State=$work/state" -o "Dir::State::status=$work/status"
             -o "Dir::Cache::archives=$archives" -o "APT::Architecture=$arch" -o "APT::Install-Recommends=0"
             -o "Debug::NoLocking=1" -o "APT::Get::List-Cleanup=0")
    if apt-get "${o[@]}" -qq update && (cd "$archives" && rm -f ./*.deb && apt-get "${o[@]}" -y -qq "$@" >/dev/null 2>&1)
    then
      echo "$suite"
      return 0
    fi
  done
  return 1
}
