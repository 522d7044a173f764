foreach corner {fast slow} {
    puts "corner $corner"
}
proc place_all {d} {
    global_placement -density $d
    detailed_placement -max_displacement 10
}
place_all 0.6
estimate_parasitics -placement
