instance "main" {
  data_dir = "/opt/open-webui"
}

target "nas" {
  remote = "/mnt/nas"
}

backup "daily" {
  instance = instance.main
  to = [
    target.nas,
    target.b2, # ERROR: Reference to undeclared target
  ]
  every = "24h"
}
