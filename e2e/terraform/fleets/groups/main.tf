# A workload that logs its own start and end: one terraform_data whose
# local-exec provisioner appends "start <name> <ns>" to <e2e_dir>/events,
# works for `seconds` (a sleep: the workload, not synchronisation) and
# appends "end <name> <ns>"; it fails instead while <e2e_dir>/fail-<name>
# exists. A new e2e_round re-creates it, so every round
# works again. Without an e2e_dir it only sleeps.

variable "name" {
  type        = string
  description = "Instance name, as logged."
}

variable "seconds" {
  type        = number
  description = "How long the workload runs."
  default     = 2
}

variable "e2e_dir" {
  type        = string
  description = "Directory of the events log (TF_VAR_e2e_dir); empty outside tests."
  default     = ""
}

variable "e2e_round" {
  type        = string
  description = "Changing it re-creates the workload (TF_VAR_e2e_round)."
  default     = ""
}

resource "terraform_data" "work" {
  triggers_replace = [var.e2e_round]

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = "log=\"$E2E_DIR/events\"; [ -n \"$E2E_DIR\" ] || log=/dev/null; echo \"start $NAME $(date +%s%N)\" >>\"$log\"; if [ -e \"$E2E_DIR/fail-$NAME\" ]; then echo \"$NAME fails on purpose\" >&2; exit 1; fi; sleep $SECONDS_OF_WORK; echo \"end $NAME $(date +%s%N)\" >>\"$log\""
    environment = {
      NAME            = var.name
      E2E_DIR         = var.e2e_dir
      SECONDS_OF_WORK = tostring(var.seconds)
    }
  }
}
