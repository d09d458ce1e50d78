instance "main" {
  data_dir = "/opt/open-webui"
}

target "nas" {
  remote = "/mnt/nas"
}

backup "daily" { # ERROR: Missing schedule
  instance = instance.main
  to       = [target.nas]
}
