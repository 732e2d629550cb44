"""Numbers Bordes, Honari & Vincent (ICLR 2017) report, with the data they came from (MNIST: the 60k-image set,
50k train / 10k valid / 10k test, continuous pixels). Ours come from the profile's data (quick: the 5,000 embedded
MNIST digits) and are printed beside these, never mixed with them."""

PAPER_DATA = "MNIST 60k (paper: 2x1200 units, T=15, omega=0.01, ~1500 epochs)"

# Table 1: Parzen-window log-likelihood on MNIST test, 10,000 samples, fixed sigma 0.17 (their code).
PARZEN_TEST = (312.0, 1.7)
# Table 2 (nats; test 1000 examples, train 100; mean +- std over 10 evaluations)
IS_TEST = (1836.27, 0.551)
IS_TRAIN = (1837.560, 1.074)
LB_TEST = (1350.598, 0.079)
LB_TRAIN = (1230.305, 0.532)
ISOTROPIC_IS_TEST = (413.297, 0.460)
ISOTROPIC_IS_TRAIN = (450.695, 1.617)
# Table 3: CIFAR-10 Inception score of 50,000 samples.
CIFAR10_INCEPTION_SCORE = (4.62, 0.06)
# Table 4: best test lower bound per number of steps T, and the rate that gave it.
TABLE4_BEST = {1: ("constant alpha 0.3", 1209.39), 5: ("omega 0.1", 1448.66), 10: ("omega 0.02", 1389.12),
               15: ("omega 0.01", 1351.03)}
TABLE4_NO_INFUSION = 824.0  # approximately, for every T (the factorial prior alone)
