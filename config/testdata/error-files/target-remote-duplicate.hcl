instance "main" {
  data_dir = "/opt/open-webui"
}

target "nas" {
  remote = "/mnt/nas/owui"
}

target "nas-again" {
  remote = "/mnt/nas/./owui/" # the same directory, spelled differently
}

target "b2" {
  remote = "b2:bucket/owui"
}

target "b2-again" {
  remote = "b2:bucket//owui/"
}

target "b2-crypt" {
  remote = "b2:bucket/owui" # crypt over the same remote is still one place

  crypt {
    password = env("OWUI_TEST_SECRET")
  }
}

target "secret" {
  remote = ":s3,secret_access_key=${env("OWUI_TEST_SECRET")}:bucket/owui"
}

target "secret-again" {
  remote = ":s3,secret_access_key=${env("OWUI_TEST_SECRET")}:bucket/./owui/"
}

target "b2-sibling" {
  remote = "b2:bucket/owui2"
}

backup "daily" {
  instance = instance.main
  to = [
    target.nas,
    target.b2,
    target.nas-again, # ERROR: Duplicate target remote
    target.b2-again,  # ERROR: Duplicate target remote
    target.b2-crypt,  # ERROR: Duplicate target remote
    target.b2-sibling,
    target.secret,
    target.secret-again, # ERROR: Duplicate target remote
  ]
  every = "24h"
}

backup "weekly" {
  instance = instance.main
  to       = [target.nas, target.b2] # other backups may share the remotes
  every    = "7d"
}
