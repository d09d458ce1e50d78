instance "main" {
  data_dir = "/opt/open-webui"
}

target "nas" {
  remote = "/mnt/nas"
}

target "inside-daily" {
  remote = "/mnt/nas/daily/" # where backup daily keeps its snapshots on nas
}

target "b2" {
  remote = "b2:bucket"
}

target "deep-in-daily" {
  remote = "b2:bucket/./daily/copies"
}

target "beside-daily" {
  remote = "/mnt/nas/daily-copies" # a sibling of /mnt/nas/daily is fine
}

target "crypt" {
  remote = "b2:secure"

  crypt {
    password = env("OWUI_TEST_SECRET")
  }
}

target "under-crypt" {
  remote = "b2:secure/daily" # crypt stores daily under an encrypted name
}

backup "daily" {
  instance = instance.main
  to       = [target.nas, target.b2, target.crypt]
  every    = "24h"
}

backup "weekly" {
  instance = instance.main
  to = [
    target.inside-daily,  # ERROR: Nested target remote
    target.deep-in-daily, # ERROR: Nested target remote
    target.beside-daily,
    target.under-crypt,
  ]
  every = "7d"
}
