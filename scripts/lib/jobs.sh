# Timed steps and background jobs for the main job (scripts/demo), sourced.
#   step NAME CMD...       runs CMD in the foreground; prints "==> NAME" and then "==> NAME: 1m05s"
#   job_start NAME CMD...  runs CMD in the background, its output in $JOBS_LOG_DIR/NAME.log (spaces -> -)
#   job_wait NAME          waits for it, naming what still runs every minute; prints its duration, or
#                          fails with the tail of its log after stopping the other jobs
# A job runs in its own process group (set -m), so stopping it stops its compilers too; sourcing this
# stops every job still running when the script exits (a failure, Ctrl-C).
JOBS_LOG_DIR=${JOBS_LOG_DIR:?set JOBS_LOG_DIR before sourcing jobs.sh}
declare -A JOB_PID=() JOB_START=()

job_file() { echo "$JOBS_LOG_DIR/${1// /-}"; }

duration() { # seconds -> 2m31s
  if (($1 >= 60)); then printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); else printf '%ds' "$1"; fi
}

step() {
  local name=$1 t0=$SECONDS
  shift
  printf '\n==> %s\n' "$name"
  "$@"
  printf '==> %s: %s\n' "$name" "$(duration $((SECONDS - t0)))"
}

job_start() {
  local name=$1 file
  file=$(job_file "$1")
  shift
  mkdir -p "$JOBS_LOG_DIR"
  rm -f "$file.seconds"
  # The job writes its own duration: job_wait may look long after it ended.
  set -m
  {
    t0=$(date +%s)
    if "$@"; then rc=0; else rc=$?; fi
    echo $(($(date +%s) - t0)) >"$file.seconds"
    exit "$rc"
  } >"$file.log" 2>&1 </dev/null &
  JOB_PID[$name]=$!
  set +m
  JOB_START[$name]=$SECONDS
  printf '==> %s: started in the background (log %s)\n' "$name" "$file.log"
}

jobs_running() { # prints "name, 1m10s: last line of its log" for each job still running
  local name last
  for name in "${!JOB_PID[@]}"; do
    kill -0 "${JOB_PID[$name]}" 2>/dev/null || continue
    last=$(tail -n 1 "$(job_file "$name").log" 2>/dev/null | tr -d '\r' | cut -c1-70)
    printf '    %s, %s: %s\n' "$name" "$(duration $((SECONDS - JOB_START[$name])))" "${last:-(no output yet)}"
  done
}

jobs_stop() {
  local name
  for name in "${!JOB_PID[@]}"; do kill -TERM -- "-${JOB_PID[$name]}" 2>/dev/null || true; done
  JOB_PID=()
}
trap jobs_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

job_wait() {
  local name=$1 pid=${JOB_PID[$1]} waited=0 rc=0 file took
  file=$(job_file "$1")
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    waited=$((waited + 1))
    if ((waited % 60 == 0)); then
      printf '... waiting for %s; running:\n' "$name"
      jobs_running
    fi
  done
  wait "$pid" || rc=$?
  unset "JOB_PID[$name]"
  took=$(duration "$(cat "$file.seconds" 2>/dev/null || echo $((SECONDS - JOB_START[$name])))")
  if ((rc != 0)); then
    printf '==> %s FAILED after %s (exit %d); the end of %s:\n' "$name" "$took" "$rc" "$file.log" >&2
    tail -n 40 "$file.log" >&2
    exit 1
  fi
  printf '==> %s: %s\n' "$name" "$took"
}
