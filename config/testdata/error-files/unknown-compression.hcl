instance "main" {
  data_dir = "/opt/open-webui"
}

target "nas" {
  remote = "/mnt/nas"
}

backup "daily" {
  instance    = instance.main
  to          = [target.nas]
  every       = "24h"
  compression = "gzip" # ERROR: Unknown compression
}

backup "weekly" {
  instance    = instance.main
  to          = [target.nas]
  every       = "168h"
  compression = true # ERROR: Unknown compression
}
