instance "main" {
  data_dir = "/opt/open-webui"
}

target "nas" {
  remote = "/mnt/nas"
}

backup "daily" {
  instance = instance.main
  to       = [target.nas]
  every    = "1 day" # ERROR: Invalid interval
}

backup "zero" {
  instance = instance.main
  to       = [target.nas]
  every    = "0s" # ERROR: Invalid interval
}

backup "secret" {
  instance = instance.main
  to       = [target.nas]
  every    = env("OWUI_TEST_SECRET") # ERROR: Invalid interval
}
