read_db alu_placed.odb
clock_tree_synthesis -root_buffer BUF_X4 -buf_list {BUF_X1 BUF_X2}
report_clock_skew
