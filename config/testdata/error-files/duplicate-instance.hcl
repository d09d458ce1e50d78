instance "main" {
  data_dir = "/opt/open-webui"
}

instance "main" { # ERROR: Duplicate instance name
  data_dir = "/opt/other"
}
