target "b2" {
  remote = "b2:bucket"
  crypt {
    password = env("OWUI_EMPTY") # ERROR: Empty crypt password
  }
}

target "s3" {
  remote = "s3:bucket"
  crypt {
    password = "" # ERROR: Empty crypt password
  }
}
