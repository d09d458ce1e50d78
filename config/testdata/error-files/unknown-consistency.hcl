instance "main" {
  data_dir  = "/opt/open-webui"
  container = "open-webui"
}

target "nas" {
  remote = "/mnt/nas"
}

backup "daily" {
  instance    = instance.main
  to          = [target.nas]
  every       = "24h"
  consistency = "freeze" # ERROR: Unknown consistency mode
}

backup "secret" {
  instance    = instance.main
  to          = [target.nas]
  every       = "24h"
  consistency = "${env("OWUI_TEST_SECRET")}-mode" # ERROR: Unknown consistency mode
}
