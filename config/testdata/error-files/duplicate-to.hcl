instance "main" {
  data_dir = "/opt/open-webui"
}

target "nas" {
  remote = "/mnt/nas"
}

backup "daily" {
  instance = instance.main
  to = [
    target.nas,
    target.nas, # ERROR: Duplicate target reference
  ]
  every = "24h"
}
