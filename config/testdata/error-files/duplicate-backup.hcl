instance "main" {
  data_dir = "/opt/open-webui"
}

target "nas" {
  remote = "/mnt/nas"
}

backup "daily" {
  instance = instance.main
  to       = [target.nas]
  every    = "24h"
}

backup "daily" { # ERROR: Duplicate backup name
  instance = instance.main
  to       = [target.nas]
  every    = "12h"
}
