target "b2" {
  remote = "b2:bucket"
  crypt {
    password = env("OWUI_UNSET_PASSWORD") # ERROR: Unset environment variable
  }
}
