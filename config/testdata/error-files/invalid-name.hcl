instance "main" {
  data_dir = "/opt/open-webui"
}

target "b2 cloud" { # ERROR: Invalid name
  remote = "b2:bucket"
}

target "nas" {
  remote = "/mnt/nas"
}

backup "../escape" { # ERROR: Invalid name
  instance = instance.main
  to       = [target.nas]
  every    = "24h"
}

backup "-daily" { # ERROR: Invalid name
  instance = instance.main
  to       = [target.nas]
  every    = "24h"
}
