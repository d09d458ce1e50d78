instance "main" { # ERROR: Missing data source
  container = "open-webui"
}
