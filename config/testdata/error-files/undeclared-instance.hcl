instance "main" {
  data_dir = "/opt/open-webui"
}

target "nas" {
  remote = "/mnt/nas"
}

backup "daily" {
  instance = instance.mian # ERROR: Reference to undeclared instance
  to       = [target.nas]
  every    = "24h"
}
