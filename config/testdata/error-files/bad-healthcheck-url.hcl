notify "hc" {
  healthcheck_url = "ntfy://hc-ping.com/${env("OWUI_TEST_SECRET")}" # ERROR: Invalid healthcheck URL
}

notify "nothing" { # ERROR: Missing notify URL
  on = ["failure"]
}
