#!/usr/bin/env bash
# Fetches the Debian kernels that the kernel matrix (.ci/kernel-matrix.sh)
# boots under QEMU, and caches them, so that a second run downloads nothing.
#
#   .ci/kernels.sh                    # the default set (below)
#   .ci/kernels.sh 6.1@bookworm 7     # Debian 12's 6.1, and the newest 7.x of any suite
#   STRIDEMAP_KERNELS="6.12@trixie" .ci/kernels.sh
#
# Each argument is SERIES[@SUITE]: the newest generic amd64 kernel whose
# version starts with SERIES (5.10, 6.1, 6.12, … or 6, 7 for the newest 6.x
# or 7.x) that the Debian suite SUITE has (bullseye, bookworm,
# bookworm-backports, trixie, trixie-backports, sid, experimental; a stable
# suite includes its -security updates). Without SUITE, any of them.
#
# For each argument it prints one line: the kernel's directory in the cache,
#   ${STRIDEMAP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stridemap}/kernels/<.deb name>/
# named after the .deb that holds vmlinuz (so after the exact version), with
#   vmlinuz      the kernel
#   modules/     the modules the guest loads (see modules_wanted), decompressed
#                for busybox's insmod, and the file order: one name a line,
#                dependencies first
#   info         key=value lines: release (uname -r), version, suite, source
#                ("Debian 12 (bookworm)"), debs
# Only vmlinuz and those modules are kept; the .debs are deleted once
# extracted. Nothing is downloaded when the newest package is cached already.
#
# The packages come from the Debian archive this machine already uses (the
# first URIs of /etc/apt), through a private apt configuration under the
# cache: the host's own sources and package lists are never touched. Should
# the archive be unreachable, the kernels resolved last time are used.
#
# Needs: apt, dpkg-deb, xz and zstd (to decompress modules), modinfo (kmod),
# flock. Runs as any user that may write the cache.
set -euo pipefail

# Debian 11's 5.10 is the oldest kernel Debian still has; 5.15 and 6.6
# (Ubuntu 22.04's, and a long-term one) were never in Debian's archive.
default_kernels="5.10@bullseye 6.1@bookworm 6.12@trixie 6@trixie-backports 7@trixie-backports"

# The modules the tests need that Debian builds as modules; what they
# depend on comes along. The network-namespace labs (discover/flows/flowstest)
# join pods with veth pairs to a bridge, DNAT a ClusterIP with iptables
# (legacy: the nat table, -p tcp --dport), and a mesh sidecar's rules
# REDIRECT by owner.
modules_wanted="veth bridge ip_tables iptable_nat nf_nat nf_conntrack xt_nat xt_REDIRECT xt_owner xt_tcpudp"

# What the kernel directory's layout is; a change rebuilds cached kernels.
layout=2

cache=${STRIDEMAP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stridemap}/kernels

log() { echo "kernels: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# source_name says what a suite is, for the support table.
source_name() {
	case $1 in
	bullseye*) echo "Debian 11 ($1)" ;;
	bookworm-backports) echo "Debian 12 backports" ;;
	bookworm*) echo "Debian 12 ($1)" ;;
	trixie-backports) echo "Debian 13 backports" ;;
	trixie*) echo "Debian 13 ($1)" ;;
	sid) echo "Debian unstable (sid)" ;;
	experimental) echo "Debian experimental" ;;
	*) echo "Debian $1" ;;
	esac
}

# mirror prints the archive this machine's apt uses: "main" for Debian's,
# "security" for its security archive ("" when apt names none).
mirror() {
	local want=$1 f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		# deb822 stanzas: the first whose Suites are (not) -security.
		awk -v want="$want" 'BEGIN { RS = ""; FS = "\n" }
			{
				uri = ""; sec = 0; deb = 0
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^Types:.*deb( |$)/) deb = 1
					if ($i ~ /^URIs:/) { split($i, a, " "); uri = a[2] }
					if ($i ~ /^Suites:.*-security/) sec = 1
				}
				if (deb && uri != "" && (want == "security") == sec) { print uri; exit }
			}' "$f"
	done
	if [ -e /etc/apt/sources.list ]; then
		# one-line sources: deb [options] URI SUITE COMPONENTS…
		awk -v want="$want" '$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) {
					while (i < NF && $i !~ /\]$/) i++
					i++
				}
				if (($(i + 1) ~ /-security/) == (want == "security")) { print $i; exit }
			}' /etc/apt/sources.list
	fi
}

# write_sources writes the private sources.list for the suites asked.
write_sources() {
	local list=$1
	shift
	local main security keyring=/usr/share/keyrings/debian-archive-keyring.gpg suite
	main=$(mirror main | head -1)
	[ -n "$main" ] || die "no Debian archive in /etc/apt/sources.list or /etc/apt/sources.list.d"
	main=${main%/}
	security=$(mirror security | head -1)
	security=${security%/}
	[ -n "$security" ] || security=${main%/debian}/debian-security
	: >"$list"
	for suite in "$@"; do
		echo "deb [signed-by=$keyring] $main $suite main" >>"$list"
		case $suite in
		*-backports | sid | experimental) ;;
		*) echo "deb [signed-by=$keyring] $security $suite-security main" >>"$list" ;;
		esac
	done
}

# max_version reads "version rest…" lines and prints the one with the
# highest Debian version.
max_version() {
	local best="" best_line="" v rest
	while read -r v rest; do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v best_line="$v $rest"
		fi
	done
	echo "$best_line"
}

# candidates prints "version package suite" for every generic amd64 kernel
# image of a series in a suite ("" for any).
candidates() {
	local series=$1 suite=$2 names
	names=$(apt-cache "${apt[@]}" pkgnames linux-image- |
		grep -E "^linux-image-${series//./\\.}[.-][0-9][^ ]*-amd64$" |
		grep -v -e -cloud- -e -rt- -e -dbg -e unsigned || true)
	[ -n "$names" ] || return 0
	# madison: "package | version | URI SUITE/main amd64 Packages"
	# shellcheck disable=SC2086 # one name a word
	apt-cache "${apt[@]}" madison $names |
		awk -F' *[|] *' -v want="$suite" '{
				split($3, a, " "); split(a[2], b, "/"); s = b[1]; sub(/^ +/, "", $1)
				if (want == "" || s == want || s == want "-security") print $2, $1, s
			}'
}

# packages prints the .debs that make up an image package: itself and the
# linux-binary, linux-modules and linux-base packages of the same version
# (7.x, and 6.19 on, split them), following metapackages.
packages() {
	local pkg=$1 version=$2 depends dep
	depends=$(apt-cache "${apt[@]}" show "$pkg=$version" | sed -n 's/^Depends: //p' | head -1 | tr ',|' '\n')
	dep=$(sed -n 's/^ *\(linux-image-[0-9][^ ]*\) (= \(.*\))$/\1 \2/p' <<<"$depends" | head -1)
	if [ -n "$dep" ]; then
		# a metapackage: the image it stands for
		packages "${dep% *}" "${dep#* }"
		return
	fi
	echo "$pkg $version"
	sed -n 's/^ *\(linux-\(binary\|modules\|base\)-[^ ]*\) (= \(.*\))$/\1 \3/p' <<<"$depends"
}

# deb_name is the file name apt gives a package's .deb.
deb_name() {
	apt-cache "${apt[@]}" show "$1=$2" 2>/dev/null | sed -n 's|^Filename: .*/||p' | head -1
}

# parts prints "package version .deb" for each package of an image (see
# packages), or fails when the archive lacks one: it happens that a
# version's linux-modules package is missing.
parts() {
	local p v name
	while read -r p v; do
		name=$(deb_name "$p" "$v")
		if [ -z "$name" ]; then
			# linux-base only says which modules are built in
			case $p in linux-base-*) continue ;; esac
			return 1
		fi
		echo "$p $v $name"
	done < <(packages "$1" "$2")
}

# extract unpacks the .debs and keeps vmlinuz and the wanted modules in dir.
extract() {
	local dir=$1 root=$1/root
	shift
	mkdir -p "$root" "$dir/modules"
	local deb
	for deb in "$@"; do
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root"
	done
	local vmlinuz moddir release
	vmlinuz=$(find "$root" -name 'vmlinuz*' -type f | head -1)
	[ -n "$vmlinuz" ] || die "no vmlinuz in $*"
	mv "$vmlinuz" "$dir/vmlinuz"
	moddir=$(find "$root" -mindepth 3 -maxdepth 4 -type d -path '*lib/modules/*' -name '[0-9]*' | head -1)
	[ -n "$moddir" ] || die "no lib/modules in $*"
	release=$(basename "$moddir")

	# name → file, with - and _ alike, as modprobe has it
	declare -A file=() builtin=() seen=()
	local f name
	while IFS= read -r f; do
		name=${f##*/}
		name=${name%%.ko*}
		file[${name//-/_}]=$f
	done < <(find "$moddir" -name '*.ko*' -type f)
	if [ -e "$moddir/modules.builtin" ]; then
		while IFS= read -r f; do
			name=${f##*/}
			name=${name%.ko}
			builtin[${name//-/_}]=1
		done <"$moddir/modules.builtin"
	fi

	local order=() missing=()
	# add puts a module's dependencies, then the module, in order.
	add() {
		local m=${1//-/_} src dep
		[ -z "${seen[$m]:-}" ] || return 0
		seen[$m]=1
		src=${file[$m]:-}
		if [ -z "$src" ]; then
			[ -n "${builtin[$m]:-}" ] || missing+=("$m")
			return 0
		fi
		case $src in
		*.ko.xz) xz -dc "$src" >"$dir/modules/$m.ko" ;;
		*.ko.zst) zstd -qdc "$src" >"$dir/modules/$m.ko" ;;
		*.ko.gz) gzip -dc "$src" >"$dir/modules/$m.ko" ;;
		*) cp "$src" "$dir/modules/$m.ko" ;;
		esac
		for dep in $(modinfo -F depends "$dir/modules/$m.ko" | tr ',' ' '); do
			add "$dep"
		done
		# soft dependencies ("pre: crc32c"), loaded first too; they may name
		# an algorithm, whose generic implementation is the module to load
		for dep in $(modinfo -F softdep "$dir/modules/$m.ko" | sed 's/\(pre\|post\)://g'); do
			dep=${dep//-/_}
			if [ -z "${file[$dep]:-}" ] && [ -n "${file[${dep}_generic]:-}" ]; then
				dep=${dep}_generic
			fi
			add "$dep"
		done
		order+=("$m")
	}
	local m
	for m in $modules_wanted; do
		add "$m"
	done
	printf '%s\n' "${order[@]}" >"$dir/modules/order"
	if [ ${#missing[@]} -gt 0 ]; then
		log "$release has no module ${missing[*]}, and does not say it is built in"
	fi
	rm -rf "$root"
	echo "$release"
}

# fetch makes sure the kernel of one spec is in the cache and prints its
# directory.
fetch() {
	local spec=$1 series suite
	series=${spec%@*}
	suite=""
	[ "$spec" = "$series" ] || suite=${spec#*@}
	# the newest version whose packages are all in the archive
	local all best pkg version from found="" incomplete=()
	all=$(candidates "$series" "$suite")
	while [ -n "$all" ]; do
		best=$(max_version <<<"$all")
		all=$(grep -vxF "$best" <<<"$all" || true)
		read -r version pkg from <<<"$best"
		if found=$(parts "$pkg" "$version"); then
			break
		fi
		found=""
		incomplete+=("$version")
	done
	[ -n "$found" ] || die "no Debian kernel $series${suite:+ in $suite}"
	if [ ${#incomplete[@]} -gt 0 ]; then
		log "$spec: $version; newer ones lack packages in the archive: ${incomplete[*]}"
	fi

	local debs=() names=() p v name holder=""
	while read -r p v name; do
		debs+=("$p=$v") names+=("$name")
		# the directory is named after the .deb that holds vmlinuz
		case $p in linux-binary-*) holder=$name ;; esac
	done <<<"$found"
	[ -n "$holder" ] || holder=${names[0]}
	local dir=$cache/${holder%.deb}
	if [ "$(sed -n 's/^stamp=//p' "$dir/info" 2>/dev/null)" != "$layout $modules_wanted" ]; then
		log "fetching ${debs[*]}"
		local tmp
		tmp=$(mktemp -d "$cache/.new.XXXXXX")
		chmod 755 "$tmp"
		if ! (cd "$tmp" && apt-get "${apt[@]}" download -qq "${debs[@]}" >/dev/null); then
			rm -rf "$tmp"
			# offline: the kernel this spec had last time, if any
			dir=$(cat "$cache/resolved/$spec" 2>/dev/null || true)
			if [ -z "$dir" ] || [ ! -e "$dir/info" ]; then
				die "cannot download ${debs[*]}, and no kernel $spec is cached"
			fi
			log "cannot download ${debs[*]}: using $(basename "$dir") of the last run"
			touch "$dir/info"
			echo "$dir"
			return
		fi
		local release
		release=$(extract "$tmp" "${names[@]/#/$tmp/}")
		rm -f "$tmp"/*.deb
		{
			echo "release=$release"
			echo "version=${version#*:}"
			echo "suite=$from"
			echo "source=$(source_name "$from")"
			echo "debs=${names[*]}"
			echo "stamp=$layout $modules_wanted"
		} >"$tmp/info"
		rm -rf "$dir"
		mv "$tmp" "$dir"
	fi
	touch "$dir/info"
	echo "$dir" >"$cache/resolved/$spec"
	echo "$dir"
}

main() {
	local specs=("$@")
	if [ ${#specs[@]} -eq 0 ]; then
		read -ra specs <<<"${STRIDEMAP_KERNELS:-$default_kernels}"
	fi
	mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" "$cache/resolved"
	exec 9>"$cache/.lock"
	flock 9 # one fetch at a time per cache
	rm -rf "$cache"/.new.* # what a fetch that failed left

	# the suites asked for, and the default's, so that the package lists
	# of other runs stay; a spec without one looks everywhere
	local suites=() spec defaults
	read -ra defaults <<<"$default_kernels"
	for spec in "${specs[@]}" "${defaults[@]}"; do
		case $spec in
		*@*) suites+=("${spec#*@}") ;;
		*) suites+=(bullseye bookworm bookworm-backports trixie trixie-backports sid experimental) ;;
		esac
	done
	mapfile -t suites < <(printf '%s\n' "${suites[@]}" | sort -u)
	write_sources "$cache/apt/sources.list" "${suites[@]}"
	apt=(-o Dir::Etc::SourceList="$cache/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o Dir::State::Lists="$cache/apt/lists" -o Dir::Cache="$cache/apt/cache"
		-o Dir::Cache::pkgcache=pkgcache.bin -o Dir::Cache::srcpkgcache=srcpkgcache.bin
		-o Dir::State::status=/dev/null -o Acquire::Languages=none
		-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
		-o APT::Sandbox::User=root)

	# apt-get update fails on some errors only; offline, it warns
	if ! apt-get "${apt[@]}" update -qq >"$cache/apt/update.log" 2>&1 || grep -q '^[EW]: ' "$cache/apt/update.log"; then
		log "could not update the package lists (see $cache/apt/update.log): using those of the last update"
	fi
	for spec in "${specs[@]}"; do
		fetch "$spec"
	done
	# kernels no run has asked for in 30 days
	local info
	for info in "$cache"/linux-*/info; do
		[ -e "$info" ] || continue
		if [ -n "$(find "$info" -mtime +30)" ]; then
			log "removing $(dirname "$info"), unused for 30 days"
			rm -rf "$(dirname "$info")"
		fi
	done
}

main "$@"
