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
  verify {
    every     = "weekly" # ERROR: Invalid verify interval
    read_data = true
  }
  verify { # ERROR: Duplicate verify block
    every = "168h"
  }
}

backup "hourly" {
  instance = instance.main
  to       = [target.nas]
  every    = "1h"
  verify { # ERROR: Missing required argument
    read_data = true
  }
}

backup "typed" {
  instance = instance.main
  to       = [target.nas]
  every    = "1h"
  verify {
    every     = "2s"  # ERROR: Invalid verify interval
    read_data = "yes" # ERROR: Incorrect attribute value type
  }
}
