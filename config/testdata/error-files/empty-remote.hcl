target "nas" {
  remote = "" # ERROR: Empty remote
}
