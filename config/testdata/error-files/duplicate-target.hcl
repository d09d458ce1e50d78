target "nas" {
  remote = "/mnt/nas/a"
}

target "nas" { # ERROR: Duplicate target name
  remote = "/mnt/nas/b"
}
