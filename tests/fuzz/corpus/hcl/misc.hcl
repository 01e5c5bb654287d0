/* block
 comment */
// line
x = <<EOT
hello "there"
EOT
y = <<-EOT
    indented
  EOT
obj = { a = 1, b = [true, false, -1.5], "c d" = { e = "\u00e9\n" } }
blk a "b" { }
