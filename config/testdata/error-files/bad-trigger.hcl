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
    on_change    = true
    debounce     = "soon" # ERROR: Invalid trigger interval
    min_interval = "10ms" # ERROR: Invalid trigger interval
  }
}

backup "hourly" {
  instance = instance.main
  to       = [target.nas]
  every    = "1h"
  trigger { # ERROR: Missing trigger event
    debounce = "1m"
  }
}

backup "typed" {
  instance = instance.main
  to       = [target.nas]
  every    = "1h"
  trigger {
    on_change = "sometimes" # ERROR: Incorrect attribute value type
  }
}
