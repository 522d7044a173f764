set opts [list -top alu -flatten]
yosys read_verilog alu.v
yosys synth {*}$opts
set out "alu_[clock seconds].v"
yosys write_verilog $out
