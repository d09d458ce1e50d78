notify "ops" {
  url = "not a url" # ERROR: Invalid notify URL
}

notify "token" {
  url = "ntfy:${env("OWUI_TEST_SECRET")}" # ERROR: Invalid notify URL
}
