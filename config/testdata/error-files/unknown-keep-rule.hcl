instance "main" {
  data_dir = "/opt/open-webui"
}

target "nas" {
  remote = "/mnt/nas"
}

backup "daily" {
  instance = instance.main
  to       = [target.nas]
  schedule = "daily"
  keep {
    dialy = 7 # ERROR: Unsupported argument
  }
}
