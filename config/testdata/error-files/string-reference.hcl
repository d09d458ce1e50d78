instance "main" {
  data_dir = "/opt/open-webui"
}

target "nas" {
  remote = "/mnt/nas"
}

backup "daily" {
  instance = "main" # ERROR: Invalid reference
  to       = [target.nas]
  every    = "24h"
}
