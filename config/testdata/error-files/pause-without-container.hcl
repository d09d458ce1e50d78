instance "main" {
  docker_volume = "open-webui"
}

target "nas" {
  remote = "/mnt/nas"
}

backup "daily" {
  instance    = instance.main
  to          = [target.nas]
  every       = "24h"
  consistency = "pause" # ERROR: Missing container
}

backup "weekly" {
  instance    = instance.main
  to          = [target.nas]
  every       = "1w"
  consistency = "stop" # ERROR: Missing container
}
