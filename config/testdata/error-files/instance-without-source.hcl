instance "main" { # ERROR: Missing data source
}
