#!/bin/sh
# diffpo experiments --quick: the results file has every section, its
# numbers obey what they must (fractions in [0, 1], the image row's
# disagreement 0 by definition, whole counts over the pairs, TailorPO's
# eq. 11 cosine 1 within 1e-5 while D3PO's is below 1), threads 1 and 2
# give byte-identical files, and bad options give one stderr line, a
# non-zero exit and no results file.
# $1: the diffpo binary.
D=${1:-build/diffpo}
. tests/lib_cli.sh

# ---- one quick run (the base model is cached in $T/out and reused below)
"$D" experiments --quick --threads 1 --out-dir "$T/out" --results "$T/r1.md" 2>"$T/err1"; st=$?
if [ $st -eq 0 ] && [ -s "$T/r1.md" ]; then ok "quick run writes the results file"; else
    no "quick run: exit $st, stderr: $(tail -3 "$T/err1")"; fi
R="$T/r1.md"
[ -e "$T/r1.md.tmp" ] && no "temporary file left behind" || ok "no temporary file left behind"
[ -s "$T/out/rdpo_loser_ratio.svg" ] && grep -q '<svg' "$T/out/rdpo_loser_ratio.svg" && ok "SVG plot written" ||
    no "no SVG plot in $T/out"

head -1 "$R" | grep -q '^# ' && ok "title line" || no "no title line"
grep -q '`build/diffpo experiments --quick`' "$R" && ok "names the regenerating command" ||
    no "the regenerating command is not named"
for s in '## Setup' '## 1. TailorPO Fig. 2' '## 2. TailorPO eq. 9 vs eq. 11' '## 3. RDPO Fig. 1 / 3b' \
    '## 4. SPO Table 3' '## 5. Every method'; do
    grep -q "^$s" "$R" && ok "section '$s'" || no "missing section '$s'"
done
if grep -Eq '(19|20)[0-9][0-9]-[01][0-9]-[0-3][0-9]' "$R"; then no "the file carries a date"; else ok "no date"; fi

# ---- section 1: 20 rows k = 1..20, six fractions each in [0, 1]
sec1() { awk '/^## 1\./{s=1} /^## 2\./{s=0} s && /^\| [0-9]+ \|/' "$R"; }
n1=$(sec1 | wc -l)
[ "$n1" -eq 20 ] && ok "section 1 has 20 rows" || no "section 1 has $n1 rows"
bad=$(sec1 | awk -F'|' '{for (i = 4; i <= 9; i++) if ($i + 0 < 0 || $i + 0 > 1 || $i !~ /[0-9]\.[0-9][0-9][0-9]/) print}')
[ -z "$bad" ] && ok "every disagreement fraction is in [0, 1]" || no "fractions out of range: $bad"
last=$(sec1 | awk -F'|' '$3 ~ /image/ {s = 0; for (i = 4; i <= 9; i++) s += ($i != " 0.000 "); print s}')
[ "$last" = "0" ] && ok "image row (x0_hat = image): disagreement exactly 0 in every column" ||
    no "image row is not all 0.000: '$(sec1 | tail -1)'"
t19=$(sec1 | awk -F'|' '$2 + 0 == 19 {print $3 + 0}')
[ "$t19" = "1" ] && ok "row k = 19 is timestep 1" || no "row k = 19 has t '$t19'"
some=$(sec1 | awk -F'|' '$2 + 0 < 20 {for (i = 4; i <= 9; i++) if ($i + 0 > 0) n++} END {print n + 0}')
[ "$some" -gt 0 ] && ok "intermediate rows are not all 0 ($some non-zero)" || no "every intermediate row is 0"
# D3PO columns: fraction * (pairs counted) is a whole number (counts over the pairs)
np=$(sed -n 's/.*D3PO setting \([0-9]*\) \/ \([0-9]*\) \/ \([0-9]*\) (aesthetic.*/\1 \2 \3/p' "$R")
if [ -n "$np" ]; then
    set -- $np
    bad=$(sec1 | awk -F'|' -v a="$1" -v b="$2" -v c="$3" '{
        n[4] = a; n[5] = b; n[6] = c
        for (i = 4; i <= 6; i++) { x = $i * n[i]; r = int(x + 0.5); if (x - r > 0.0006 * n[i] || r - x > 0.0006 * n[i]) print }
    }')
    [ -z "$bad" ] && ok "D3PO fractions are counts over $1/$2/$3 pairs" || no "not whole counts: $bad"
    [ "$1" -le 48 ] && [ "$1" -gt 0 ] && ok "pairs counted <= pairs ($1 of 48)" || no "pairs counted: $1"
else
    no "no 'Pairs counted' line"
fi

# ---- section 2: TailorPO cos = 1 within 1e-5; D3PO mean cos below 1 at every step
rng=$(sed -n 's/.*cos in \[\([-0-9.]*\), \([-0-9.]*\)\].*/\1 \2/p' "$R")
if [ -n "$rng" ] && echo "$rng" | awk '{exit !($1 >= 1 - 1e-5 && $2 <= 1 + 1e-5 && $1 <= $2)}'; then
    ok "TailorPO pairs: cos within 1e-5 of 1 ($rng)"
else
    no "TailorPO pairs: cos range '$rng'"
fi
sec2() { awk '/^## 2\./{s=1} /^## 3\./{s=0} s && /^\| [0-9]+ \|/' "$R"; }
n2=$(sec2 | wc -l)
[ "$n2" -eq 19 ] && ok "section 2 has 19 steps" || no "section 2 has $n2 steps"
bad=$(sec2 | awk -F'|' '!(NF == 12 && $5 + 0 < 1 - 1e-3 && $5 + 0 > -1 && $6 <= $5 && $5 <= $7 && $9 + 0 >= 0 &&
    $10 + 0 >= -1 && $10 + 0 <= 1 && $11 + 0 >= -1 && $11 + 0 <= 1 && $10 ~ /[0-9]\.[0-9][0-9][0-9][0-9]/) {print}')
[ -z "$bad" ] && ok "D3PO: mean cos(g, x^w - x^l) < 1 at every step, min <= mean <= max; LoRA cosines in [-1, 1]" ||
    no "D3PO cos rows: $bad"

# ---- section 3 and 4 tables
n3=$(awk '/^## 3\./{s=1} /^## 4\./{s=0} s && /^\| [0-9]+–[0-9]+ \|/' "$R" | wc -l)
[ "$n3" -eq 3 ] && ok "section 3: 3 windows of 2 iterations (6 quick iterations)" || no "section 3 has $n3 windows"
for r in d3po tailorpo rdpo rdpo-fixed rdpo-lambda0; do
    grep -q "^| $r | [0-9.-]* ± [0-9.]* | [-+][0-9.]* ± [0-9.]* | \`[0-9a-f]\{16\}\` |$" "$R" && ok "section 3 row $r" ||
        no "section 3 row $r"
done
n4=$(awk '/^## 4\./{s=1} /^## 5\./{s=0} s && /^\| (none|winner|loser|random)/' "$R" | wc -l)
[ "$n4" -eq 4 ] && ok "section 4: four resamplers" || no "section 4 has $n4 resampler rows"
n5=$(awk '/^## 5\./{s=1} s && /^\| [a-z0-9-]+ \| [0-9]/' "$R" | wc -l)
[ "$n5" -eq 9 ] && ok "section 5: nine methods (ddpo included)" || no "section 5 has $n5 method rows"
# the SPO random row is the main table's spo run: same fingerprint
fr=$(awk '/^\| random \|/ {print $NF == "|" ? $(NF-1) : $NF}' "$R")
fs=$(awk '/^## 5\./{s=1} s && /^\| spo \|/ {print $(NF-1)}' "$R")
[ -n "$fr" ] && [ "$fr" = "$fs" ] && ok "SPO random = main spo run ($fs)" || no "SPO random '$fr' vs spo '$fs'"

# ---- section 5 is `diffpo align` with the options the file names: same rewards and fingerprints
acmd=$(sed -n 's/^The same runs as `build\/diffpo align \([^`]*\)`.*/\1/p' "$R")
if [ -n "$acmd" ]; then
    "$D" align $acmd --out-dir "$T/out" --quiet >"$T/align.txt" 2>"$T/erra"
    want=$(awk '/^## 5\./{s=1} s && /^\| [a-z0-9-]+ \| [0-9]/ {gsub(/`/, ""); print $2, $4, $6, $10, $14}' "$R")
    got=$(awk 'NR > 2 {print $1, $2, $3, $4, $6}' "$T/align.txt")
    [ -n "$want" ] && [ "$want" = "$got" ] && ok "section 5 = diffpo align $acmd (rewards, fingerprints)" ||
        no "section 5 vs align: want '$want' got '$got' ($(cat "$T/erra"))"
else
    no "section 5 names no align command"
fi

# ---- threads 2: byte-identical
"$D" experiments --quick --threads 2 --out-dir "$T/out" --results "$T/r2.md" 2>"$T/err2"; st=$?
if [ $st -eq 0 ] && cmp -s "$T/r1.md" "$T/r2.md"; then ok "threads 1 and 2: byte-identical results"; else
    no "threads 1 vs 2 differ (exit $st): $(diff "$T/r1.md" "$T/r2.md" | head -5)"; fi
# a different seed changes the numbers and names itself in the command line
"$D" experiments --quick --seed 7 --out-dir "$T/out" --results "$T/r7.md" 2>/dev/null
grep -q '`build/diffpo experiments --quick --seed 7`' "$T/r7.md" && ! cmp -s "$T/r1.md" "$T/r7.md" &&
    ok "--seed 7: other numbers, named in the command" || no "--seed 7 results"

# ---- errors: one line on stderr, non-zero exit, no results file
expect_error() {
    name=$1
    shift
    rm -f "$T/bad.md"
    out=$("$D" experiments "$@" 2>"$T/err"); st=$?
    lines=$(wc -l <"$T/err")
    if [ $st -ne 0 ] && [ -z "$out" ] && [ "$lines" -eq 1 ] && grep -q '^diffpo experiments: ' "$T/err" &&
        [ ! -e "$T/bad.md" ] && [ ! -e "$T/bad.md.tmp" ]; then
        ok "$name ($(cat "$T/err"))"
    else
        no "$name: exit $st, stdout '$out', stderr '$(cat "$T/err")'"
    fi
}
Q="--quick --out-dir $T/out --results $T/bad.md"
expect_error "unknown option" $Q --bogus 1
expect_error "unknown flag" $Q --verbose
expect_error "positional argument" $Q extra
expect_error "threads 0" $Q --threads 0
expect_error "threads 65" $Q --threads 65
expect_error "threads not a number" $Q --threads two
expect_error "seed negative" $Q --seed -1
expect_error "seed junk" $Q --seed 12x
expect_error "missing value" $Q --seed
expect_error "empty out-dir" --quick --results "$T/bad.md" --out-dir ""
expect_error "empty results" --quick --out-dir "$T/out" --results ""
expect_error "results in a missing folder" --quick --out-dir "$T/out" --results "$T/nodir/r.md"
expect_error "out-dir is a file" --quick --results "$T/bad.md" --out-dir "$T/r1.md/x"
"$D" experiments --help >"$T/help" 2>"$T/err"; st=$?
[ $st -eq 0 ] && grep -q '^usage: diffpo experiments' "$T/help" && [ ! -s "$T/err" ] && ok "--help" || no "--help: exit $st"

finish
