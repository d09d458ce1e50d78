instance "main" {
  data_dir = "/opt/open-webui"
  datadir  = "/opt/other" # ERROR: Unsupported argument
}
