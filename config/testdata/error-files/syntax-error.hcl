instance "main" {
  data_dir = "/opt/open-webui"
  container = = "open-webui" # ERROR: Invalid expression
}
