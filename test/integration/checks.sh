# Helpers of the shell integration tests (sourced): a query's text result, and named checks
# counted in $checks and $failures.

checks=0
failures=0

# sql DATABASE QUERY: the result as unaligned text; a failing query ends the script.
sql() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$1" -c "$2"; }

# check NAME EXPECTED ACTUAL
check() {
  checks=$((checks + 1))
  if [ "$2" == "$3" ]; then
    echo "ok: $1"
  else
    echo "FAIL: $1"
    echo "  expected: $2"
    echo "  actual:   $3"
    failures=$((failures + 1))
  fi
}
