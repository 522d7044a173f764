// uart_rx.v - Pico SoC UART receiver (8N1).
// The RXD pin is double-flopped into the clk domain, then sampled at the
// middle of each bit: the start bit is re-checked on its 8th tick of 16,
// then each data and stop bit is sampled 16 ticks later. A low stop bit raises frame_err.
module uart_rx (
    input  wire       clk,
    input  wire       rst_n,
    input  wire       tick16,
    input  wire       rx_en,     // CTRL.RX_EN
    input  wire       rxd,
    output reg  [7:0] data,
    output reg        valid,     // one-cycle pulse: a byte was received
    output reg        frame_err  // one-cycle pulse: stop bit was 0
);
    localparam S_IDLE  = 2'd0;
    localparam S_START = 2'd1;
    localparam S_DATA  = 2'd2;
    localparam S_STOP  = 2'd3;

    reg [1:0] rxd_sync;
    reg [1:0] state;
    reg [3:0] tick_cnt;
    reg [2:0] bit_idx;
    reg [7:0] shreg;

    wire rxd_s = rxd_sync[1];

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n)
            rxd_sync <= 2'b11;
        else
            rxd_sync <= {rxd_sync[0], rxd};
    end

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            state     <= S_IDLE;
            tick_cnt  <= 4'd0;
            bit_idx   <= 3'd0;
            shreg     <= 8'h00;
            data      <= 8'h00;
            valid     <= 1'b0;
            frame_err <= 1'b0;
        end else begin
            valid     <= 1'b0;
            frame_err <= 1'b0;
            case (state)
                S_IDLE: begin
                    tick_cnt <= 4'd0;
                    if (rx_en && !rxd_s)
                        state <= S_START;
                end
                S_START: begin
                    if (tick16) begin
                        tick_cnt <= tick_cnt + 4'd1;
                        if (tick_cnt == 4'd7) begin
                            // re-check mid-bit: a glitch returns to idle
                            tick_cnt <= 4'd0;
                            bit_idx  <= 3'd0;
                            state    <= rxd_s ? S_IDLE : S_DATA;
                        end
                    end
                end
                S_DATA: begin
                    if (tick16) begin
                        tick_cnt <= tick_cnt + 4'd1;
                        if (tick_cnt == 4'd15) begin
                            shreg   <= {rxd_s, shreg[7:1]};
                            bit_idx <= bit_idx + 3'd1;
                            if (bit_idx == 3'd7)
                                state <= S_STOP;
                        end
                    end
                end
                S_STOP: begin
                    if (tick16) begin
                        tick_cnt <= tick_cnt + 4'd1;
                        if (tick_cnt == 4'd15) begin
                            state <= S_IDLE;
                            if (rxd_s) begin
                                data  <= shreg;
                                valid <= 1'b1;
                            end else begin
                                frame_err <= 1'b1;
                            end
                        end
                    end
                end
            endcase
        end
    end
endmodule
