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
  keep {
    last  = "seven" # ERROR: Incorrect attribute value type
    daily = 1.5     # ERROR: Incorrect attribute value type
  }
}
