"""alloybench: is this interatomic potential good enough for Al-Cu-Mg-Zn metallurgy?"""

__version__ = "0.1.0"
