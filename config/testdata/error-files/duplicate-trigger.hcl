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
  trigger {
    on_change = true
  }
  trigger { # ERROR: Duplicate trigger block
    on_change = false
  }
}
