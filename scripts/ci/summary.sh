# shellcheck shell=bash
# Sourced by the CI scripts: where their report goes. Do not run it.

# summary: appends stdin to the job summary ($GITHUB_STEP_SUMMARY), or prints it when run outside Actions.
summary() {
    if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat >>"$GITHUB_STEP_SUMMARY"; else cat; fi
}

# collapsed TITLE FILE: the file's last 60,000 bytes as a collapsed block (the summary holds 1 MiB per step).
collapsed() {
    printf '<details><summary>%s</summary>\n\n~~~text\n' "$1"
    tail -c 60000 "$2"
    printf '\n~~~\n\n</details>\n\n'
}
