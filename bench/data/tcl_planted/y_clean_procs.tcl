# synthesize with a helper proc and a loop
set top alu
set files {alu.v}
proc read_all {files} {
    foreach f $files {
        yosys read_verilog -sv $f
    }
}
read_all $files
yosys synth -top $top -flatten -run begin:fine
if {[file exists alu.v]} {
    yosys tee -q -o stat.txt stat -width
} else {
    puts "no design"
}
yosys write_json alu.json
