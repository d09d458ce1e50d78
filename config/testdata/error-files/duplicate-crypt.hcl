target "b2" {
  remote = "b2:bucket"
  crypt {
    password = env("OWUI_TEST_SECRET")
  }
  crypt { # ERROR: Duplicate crypt block
    password = env("OWUI_TEST_SECRET")
  }
}
