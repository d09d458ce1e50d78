notify "ops" {
  url = "ntfy://ntfy.sh/my-owui"
  on  = ["failure", "sometimes"] # ERROR: Unknown notify event
}

notify "none" {
  url = "ntfy://ntfy.sh/my-owui"
  on  = [] # ERROR: Empty notify events
}

notify "all" {
  url = "ntfy://ntfy.sh/my-owui"
  on  = ["success", "failure", "drift", "verify_failed", "stale"]
}
