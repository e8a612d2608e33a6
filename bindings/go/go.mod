module cell.dev/cell

go 1.19
