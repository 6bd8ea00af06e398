# debian-mirror.sh — sourced by the fetch-*.sh scripts: debian_mirror prints the
# address of the Debian archive the system's apt sources already use (its main
# archive, not the security one), updating the package lists once if needed.
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
