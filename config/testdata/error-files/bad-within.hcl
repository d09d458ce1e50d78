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
    within = "2w" # ERROR: Invalid within duration
  }
}

backup "order" {
  instance = instance.main
  to       = [target.nas]
  every    = "24h"
  keep {
    within = "2d1y" # ERROR: Invalid within duration
  }
}
